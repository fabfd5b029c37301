// Sharing with a clinician: a single-use code, who has access (revocable), and the access
// log. Needs the network.
import * as api from '../api.js';
import { S } from '../strings.js';
import { h, replace, announce, formatDateTime } from '../dom.js';

export function shareScreen(main) {
  const codeHost = h('div', { 'aria-live': 'polite' });
  const linksHost = h('section', { class: 'card', 'aria-labelledby': 'links-heading' });
  const logHost = h('section', { class: 'card', 'aria-labelledby': 'log-heading' });
  const error = h('p', { class: 'error', role: 'alert' });

  async function makeCode(event) {
    error.textContent = '';
    event.target.disabled = true;
    try {
      const share = await api.json('POST', '/v1/patients/me/share-codes', { expires_in_hours: 72 });
      replace(codeHost,
        h('p', {}, S.shareCodeIs),
        h('p', { class: 'share-code', 'data-code': share.code }, share.code),
        h('p', { class: 'hint' }, S.shareCodeValid(formatDateTime(share.expires_at))));
      announce(`${S.shareCodeIs} ${share.code}`);
    } catch (failure) {
      error.textContent = failure instanceof api.Offline ? S.needConnection : S.somethingWrong;
    } finally {
      event.target.disabled = false;
    }
  }

  async function revoke(link) {
    try {
      await api.json('DELETE', `/v1/patients/me/links/${link.clinician_id}`);
      announce(S.accessRevoked(link.display_name || link.email));
      await loadLinks();
      await loadLog();
    } catch (failure) {
      error.textContent = failure instanceof api.Offline ? S.needConnection : S.somethingWrong;
    }
  }

  async function loadLinks() {
    try {
      const links = await api.getJson('/v1/patients/me/links');
      replace(linksHost,
        h('h2', { id: 'links-heading' }, S.whoHasAccess),
        links.length === 0 ? h('p', { class: 'empty' }, S.nobodyHasAccess) : null,
        h('ul', { class: 'plain' }, links.map((link) => {
          const name = link.display_name || link.email;
          return h('li', { class: 'link-row' },
            h('div', {}, h('p', { class: 'entry-when' }, name), h('p', { class: 'entry-facts' }, `${link.email} · ${S.linkedSince(formatDateTime(link.linked_at))}`)),
            h('button', { type: 'button', class: 'danger', 'aria-label': S.revokeFor(name), onclick: () => revoke(link) }, S.revoke));
        })));
    } catch (failure) {
      replace(linksHost, h('h2', { id: 'links-heading' }, S.whoHasAccess), h('p', { class: 'notice' }, failure instanceof api.Offline ? S.needConnection : S.somethingWrong));
    }
  }

  async function loadLog() {
    try {
      const page = await api.getJson('/v1/patients/me/access-log?limit=50');
      replace(logHost,
        h('h2', { id: 'log-heading' }, S.accessLog),
        page.items.length === 0 ? h('p', { class: 'empty' }, S.noAccessYet) : h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': S.accessLog },
          h('table', {},
            h('caption', { class: 'visually-hidden' }, S.accessLog),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, S.who), h('th', { scope: 'col' }, S.whenColumn), h('th', { scope: 'col' }, S.what))),
            h('tbody', {}, page.items.map((item) => h('tr', {},
              h('td', {}, item.actor_display_name || S.roleLabel(item.actor_role)),
              h('td', {}, formatDateTime(item.at)),
              h('td', { class: 'path' }, S.accessWhat(item.method, item.path))))))));
    } catch (failure) {
      replace(logHost, h('h2', { id: 'log-heading' }, S.accessLog), h('p', { class: 'notice' }, failure instanceof api.Offline ? S.needConnection : S.somethingWrong));
    }
  }

  replace(main,
    h('h1', {}, S.shareTitle),
    h('section', { class: 'card', 'aria-labelledby': 'code-heading' },
      h('h2', { id: 'code-heading' }, S.shareWithClinician),
      h('p', {}, S.shareExplain),
      h('button', { type: 'button', class: 'primary', onclick: makeCode }, S.makeShareCode),
      error,
      codeHost),
    linksHost,
    logHost);
  loadLinks();
  loadLog();
  return { refresh: () => {} };
}

// Writes the server refused: a record changed on another device since this one read it
// (412, or `conflict` in a batch), or one the server found invalid. Shown until the user
// decides; never dropped silently.
import * as sync from '../sync.js';
import { S } from '../strings.js';
import { h, replace, announce, formatDate, formatClock } from '../dom.js';

function describe(conflict) {
  const record = conflict.mine ?? conflict.theirs ?? {};
  if (conflict.type === 'entry' && record.recorded_at) {
    return S.entryOf(formatDate(record.recorded_at.slice(0, 10)), formatClock(record.recorded_at));
  }
  if (conflict.type === 'course') return S.courseNamed(record.name ?? '');
  if (conflict.type === 'session' && record.occurred_at) {
    return S.sessionOf(formatDate(record.occurred_at.slice(0, 10)));
  }
  return S.recordKind[conflict.type];
}

function explain(conflict) {
  if (conflict.reason === 'invalid') {
    const messages = conflict.errors.map((error) => error.msg).filter(Boolean).join('; ');
    return `${S.conflictInvalid} ${messages}`;
  }
  if (conflict.op === 'delete') return S.conflictDeleted;
  if (!conflict.theirs) return S.conflictGone;
  return S.conflictChanged;
}

export async function conflictsPanel(host) {
  const conflicts = await sync.conflicts();
  // Redrawn only when the conflicts change: the panel is an alert, read out at each redraw.
  const keys = conflicts.map((conflict) => conflict.key).sort().join(' ');
  if (host.dataset.keys === keys && host.isConnected) return;
  host.dataset.keys = keys;
  if (!conflicts.length) {
    host.replaceChildren();
    return;
  }
  const act = (work, message) => async (event) => {
    event.target.disabled = true;
    try {
      await work();
      announce(message);
    } catch {
      announce(S.needConnection);
      event.target.disabled = false;
    }
  };
  replace(
    host,
    h('section', { class: 'conflicts', role: 'alert', 'aria-labelledby': 'conflicts-heading' },
      h('h2', { id: 'conflicts-heading' }, S.conflictsTitle),
      h('ul', {}, conflicts.map((conflict) => {
        const label = describe(conflict);
        return h('li', { class: 'conflict' },
          h('p', {}, h('strong', {}, label), ' — ', explain(conflict)),
          h('div', { class: 'actions' },
            conflict.reason === 'conflict'
              ? h('button', { type: 'button', class: 'primary', 'aria-label': `${S.keepMine}: ${label}`, onclick: act(() => sync.keepMine(conflict.key), S.keptMine) }, S.keepMine)
              : null,
            h('button', { type: 'button', class: 'secondary', 'aria-label': `${S.useTheirs(conflict.reason)}: ${label}`, onclick: act(() => sync.useTheirs(conflict.key), S.tookTheirs) }, S.useTheirs(conflict.reason)),
          ));
      }))));
}

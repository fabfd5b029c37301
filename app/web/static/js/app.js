// The app shell: who is signed in, the hash router (#/diary, #/courses, …), the header with
// the sync state, the navigation, and the conflicts panel shown on every patient screen.
import * as api from './api.js';
import * as store from './store.js';
import * as sync from './sync.js';
import { S } from './strings.js';
import { h, replace, announce } from './dom.js';
import { authScreen } from './views/auth.js';
import { diaryScreen } from './views/diary.js';
import { coursesScreen } from './views/courses.js';
import { summaryScreen } from './views/summary.js';
import { shareScreen } from './views/share.js';
import { patientsScreen, reportScreen } from './views/clinician.js';
import { conflictsPanel } from './views/conflicts.js';

const PATIENT_SCREENS = [
  ['diary', S.navDiary, diaryScreen],
  ['courses', S.navCourses, coursesScreen],
  ['summary', S.navSummary, summaryScreen],
  ['share', S.navShare, shareScreen],
];

const root = document.getElementById('root');
const session = { user: null };
let shell = null; // {header, nav, main, conflicts, status}
let screen = null; // what the current screen returned: {refresh?, dispose?}
let rendered = null; // the route string last rendered

function route() {
  const hash = location.hash;
  return hash.startsWith('#/') ? hash.slice(2).split('/') : [];
}

export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function statusText() {
  const { online, pending, conflicts } = sync.status;
  if (conflicts) return [S.statusConflicts(conflicts), 'warn'];
  if (!online) return [pending ? S.statusOfflinePending(pending) : S.statusOffline, 'offline'];
  if (pending) return [S.statusPending(pending), 'pending'];
  return [S.statusSaved, 'ok'];
}

function updateStatus() {
  if (!shell?.status) return;
  const [text, kind] = statusText();
  shell.status.textContent = text;
  shell.status.className = `sync-status ${kind}`;
}

function buildShell(user) {
  const status = user.role === 'patient' ? h('p', { class: 'sync-status', id: 'sync-status' }) : null;
  const header = h(
    'header',
    { class: 'bar' },
    h('div', { class: 'bar-title' },
      h('img', { src: '/app/icons/icon-192.png', alt: '', width: 32, height: 32 }),
      h('span', {}, S.appName)),
    status,
    h('button', { type: 'button', class: 'quiet', onclick: signOut }, S.signOut),
  );
  const links = user.role === 'patient'
    ? PATIENT_SCREENS.map(([name, label]) => [name, label])
    : [['patients', S.navPatients]];
  const nav = h(
    'nav',
    { class: 'tabs', 'aria-label': S.navLabel },
    h('ul', {}, links.map(([name, label]) => h('li', {}, h('a', { href: `#/${name}`, 'data-route': name }, label)))),
  );
  const conflicts = h('div', { class: 'conflicts-host' });
  const content = h('div', { class: 'content' });
  const main = h('main', { id: 'main', tabindex: -1 }, conflicts, content);
  replace(root, header, main, nav);
  shell = { user, header, nav, main, content, conflicts, status };
  updateStatus();
}

async function showConflicts() {
  if (!shell || shell.user.role !== 'patient') return;
  await conflictsPanel(shell.conflicts);
}

function dispose() {
  screen?.dispose?.();
  screen = null;
}

async function render() {
  const parts = route();
  const key = parts.join('/');
  dispose();
  if (!session.user) {
    shell = null;
    const mode = parts[0] === 'create' ? 'create' : 'signin';
    screen = authScreen(root, { mode, signedIn, navigate });
    document.title = `${mode === 'create' ? S.createAccount : S.signInTitle} – ${S.appName}`;
    focusHeading(root);
    rendered = key;
    return;
  }
  if (!shell || shell.user !== session.user) buildShell(session.user);
  let name = parts[0];
  let title;
  if (session.user.role === 'patient') {
    const found = PATIENT_SCREENS.find(([route]) => route === name) ?? PATIENT_SCREENS[0];
    name = found[0];
    title = found[1];
    screen = found[2](shell.content, { user: session.user, navigate });
    showConflicts();
  } else if (name === 'patients' && parts[1]) {
    title = S.reportTitle;
    screen = reportScreen(shell.content, { user: session.user, navigate, patientId: parts[1] });
  } else {
    name = 'patients';
    title = S.navPatients;
    screen = patientsScreen(shell.content, { user: session.user, navigate });
  }
  for (const link of shell.nav.querySelectorAll('a')) {
    if (link.dataset.route === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${title} – ${S.appName}`;
  if (rendered !== key) focusHeading(shell.content);
  rendered = key;
}

function focusHeading(container) {
  // A screen change moves focus to its heading, so a screen reader announces it.
  const heading = container.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
}

async function forgetOtherAccount(user) {
  const previous = await store.kvGet('me');
  if (previous && previous.id !== user.id) {
    const refreshToken = await store.kvGet('refresh_token');
    await store.clearAll();
    await store.kvSet('refresh_token', refreshToken);
  }
  await store.kvSet('me', user);
}

async function signedIn() {
  const user = await api.getJson('/v1/me');
  await forgetOtherAccount(user);
  await enter(user);
  const home = user.role === 'patient' ? '#/diary' : '#/patients';
  navigate(home);
}

async function enter(user) {
  session.user = user;
  shell = null;
  if (user && user.role === 'patient') sync.start();
}

async function signOut(event) {
  const button = event?.currentTarget;
  if (session.user?.role === 'patient' && button && !button.dataset.confirmed) {
    await sync.syncNow();
    if (sync.status.pending > 0) {
      // Signing out forgets this device's copy: say what would be lost, sign out on a second tap.
      button.dataset.confirmed = 'yes';
      button.textContent = S.signOutAnyway;
      shell.content.prepend(h('p', { class: 'notice', role: 'alert' }, S.unsentWarning(sync.status.pending)));
      return;
    }
  }
  sync.stop();
  await api.signOut();
  await store.clearAll();
  session.user = null;
  shell = null;
  navigate('#/signin');
  announce(S.signedOut);
}

async function sessionLost() {
  sync.stop();
  session.user = null;
  shell = null;
  navigate('#/signin');
  announce(S.sessionEnded);
}

async function start() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {
      // No offline copy this time (e.g. a private window); the app still works online.
    });
  }
  window.addEventListener('hashchange', render);
  sync.events.addEventListener('change', () => {
    screen?.refresh?.();
    showConflicts();
  });
  sync.events.addEventListener('status', () => {
    updateStatus();
    showConflicts();
  });
  sync.events.addEventListener('auth-lost', sessionLost);
  let user = null;
  try {
    user = await api.resume();
  } catch {
    user = null;
  }
  await enter(user);
  if (user && !location.hash.startsWith('#/')) {
    history.replaceState(null, '', user.role === 'patient' ? '#/diary' : '#/patients');
  }
  await render();
  document.body.classList.add('ready');
}

start();

// Offline-first sync. Every write goes to IndexedDB first (records + outbox), with the id
// the device made, then up: new entries by the batch endpoint, everything else by PUT or
// DELETE with If-Match. A retry never duplicates (the id is the device's) and a refused
// write becomes a conflict the user decides, never a silent loss. The changes feed brings
// what other devices wrote.
import * as api from './api.js';
import * as store from './store.js';

export const events = new EventTarget();
export const status = { online: navigator.onLine, pending: 0, conflicts: 0, syncing: false };

const COLLECTION = { entry: 'entries', course: 'courses', session: 'sessions' };
const UPLOAD_ORDER = { course: 0, session: 1, entry: 2 };
const BATCH_SIZE = 500;

const recordPath = (type, id) => `/v1/patients/me/${COLLECTION[type]}/${id}`;
const keyOf = (type, id) => `${type}:${id}`;

function notify(kind) {
  events.dispatchEvent(new Event(kind));
}

async function countStatus() {
  status.pending = await store.count('outbox');
  status.conflicts = await store.count('conflicts');
  notify('status');
}

/** Records of one type kept on this device, each `{type, id, data, version, pending}`. */
export async function records(type) {
  const [all, outbox] = await Promise.all([store.all('records'), store.all('outbox')]);
  const pending = new Set(outbox.map((item) => item.key));
  return all
    .filter((record) => record.type === type)
    .map((record) => ({ ...record, pending: pending.has(record.key) }));
}

export const conflicts = () => store.all('conflicts');

/** Keeps a created or changed record on the device and queues its upload. `body` is the
 * whole record as the API's PUT takes it (PUT replaces). */
export async function save(type, id, body) {
  const key = keyOf(type, id);
  const [existing, queued] = await Promise.all([store.get('records', key), store.get('outbox', key)]);
  // The version this edit started from: a queued edit keeps the one it was based on.
  const base = queued ? queued.base_version : existing ? existing.version : null;
  await store.write(['records', 'outbox'], (s) => {
    s.records.put({ key, type, id, data: { ...body, id }, version: existing ? existing.version : null });
    s.outbox.put({ key, type, id, op: 'put', body, base_version: base, queued_at: Date.now() });
  });
  notify('change');
  await countStatus();
  syncNow();
}

export async function remove(type, id) {
  const key = keyOf(type, id);
  const [existing, queued] = await Promise.all([store.get('records', key), store.get('outbox', key)]);
  const base = queued ? queued.base_version : existing ? existing.version : null;
  await store.write(['records', 'outbox'], (s) => {
    s.records.delete(key);
    s.outbox.put({ key, type, id, op: 'delete', base_version: base, queued_at: Date.now() });
  });
  notify('change');
  await countStatus();
  syncNow();
}

// --- upload ---------------------------------------------------------------------------

function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const out = {};
    for (const key of Object.keys(value).sort()) {
      const item = value[key];
      if (item === null || item === undefined || (Array.isArray(item) && item.length === 0)) continue;
      out[key] = canonical(item);
    }
    return out;
  }
  return value;
}

/** Whether the server's record already holds what we sent (a retry whose first response
 * was lost: the server moved on to our own version, so If-Match fails harmlessly). */
function sameContent(body, server) {
  return Object.keys(body).every(
    (key) => JSON.stringify(canonical(body[key] ?? null)) === JSON.stringify(canonical(server[key] ?? null)),
  );
}

async function fetchRecord(type, id) {
  const response = await api.request('GET', recordPath(type, id));
  if (response.status === 404) return null;
  if (!response.ok) throw new api.ApiError(response.status, await response.json().catch(() => null));
  return response.json();
}

/** The outbox item went up: forget it unless the user changed the record meanwhile. */
async function settled(item, version, data) {
  const queued = await store.get('outbox', item.key);
  const existing = await store.get('records', item.key);
  await store.write(['records', 'outbox'], (s) => {
    if (queued && queued.queued_at === item.queued_at) s.outbox.delete(item.key);
    else if (queued && version != null) s.outbox.put({ ...queued, base_version: version });
    if (item.op === 'delete') return;
    if (data) s.records.put({ key: item.key, type: item.type, id: item.id, data, version });
    else if (existing) s.records.put({ ...existing, version });
  });
}

async function refused(item, reason, theirs, errors) {
  const queued = await store.get('outbox', item.key);
  await store.write(['outbox', 'conflicts'], (s) => {
    if (queued && queued.queued_at === item.queued_at) s.outbox.delete(item.key);
    s.conflicts.put({
      key: item.key, type: item.type, id: item.id, op: item.op,
      mine: item.body ?? null, theirs, reason, errors: errors ?? [],
    });
  });
}

function retryLater(response) {
  throw new api.ApiError(response.status, null);
}

async function uploadOne(item) {
  const path = recordPath(item.type, item.id);
  const headers = item.base_version != null ? { 'If-Match': `"${item.base_version}"` } : {};
  if (item.op === 'delete') {
    const response = await api.request('DELETE', path, { headers });
    if (response.ok || response.status === 404) return settled(item, null, null);
    if (response.status === 412) return refused(item, 'conflict', await fetchRecord(item.type, item.id));
    return retryLater(response);
  }
  const response = await api.request('PUT', path, { body: item.body, headers });
  if (response.ok) {
    const data = await response.json();
    return settled(item, data.version, data);
  }
  if (response.status === 412 || (response.status === 404 && item.base_version != null)) {
    const theirs = await fetchRecord(item.type, item.id);
    if (theirs && sameContent(item.body, theirs)) return settled(item, theirs.version, theirs);
    return refused(item, 'conflict', theirs);
  }
  if (response.status === 422 || response.status === 404) {
    const problem = await response.json().catch(() => null);
    return refused(item, 'invalid', null, problem?.errors ?? [{ msg: problem?.detail ?? '' }]);
  }
  return retryLater(response);
}

async function uploadEntryBatch(items) {
  for (let start = 0; start < items.length; start += BATCH_SIZE) {
    const chunk = items.slice(start, start + BATCH_SIZE);
    const { results } = await api.json('POST', '/v1/patients/me/entries/batch', {
      items: chunk.map((item) => ({ ...item.body, id: item.id })),
    });
    const byId = new Map(chunk.map((item) => [item.id, item]));
    for (const result of results) {
      const item = byId.get(result.id);
      if (!item) continue;
      if (result.status === 'conflict') await refused(item, 'conflict', await fetchRecord('entry', item.id));
      else if (result.status === 'invalid') await refused(item, 'invalid', null, result.errors);
      else await settled(item, result.version, null);
    }
  }
}

async function upload() {
  const items = (await store.all('outbox')).sort(
    (a, b) => UPLOAD_ORDER[a.type] - UPLOAD_ORDER[b.type] || a.queued_at - b.queued_at,
  );
  if (items.length === 0) return false;
  // New entries go up together; an edit or a delete names the version it started from.
  const isNewEntry = (item) => item.type === 'entry' && item.op === 'put' && item.base_version == null;
  for (const item of items.filter((i) => i.type !== 'entry')) await uploadOne(item);
  const created = items.filter(isNewEntry);
  if (created.length) await uploadEntryBatch(created);
  for (const item of items.filter((i) => i.type === 'entry' && !isNewEntry(i))) await uploadOne(item);
  return true;
}

// --- download -------------------------------------------------------------------------

async function pull() {
  let cursor = await store.kvGet('cursor');
  let changed = false;
  for (;;) {
    const query = new URLSearchParams({ limit: '500' });
    if (cursor) query.set('since', cursor);
    const page = await api.getJson(`/v1/patients/me/changes?${query}`);
    const waiting = new Set((await store.all('outbox')).map((item) => item.key));
    await store.write(['records'], (s) => {
      for (const change of page.changes) {
        const key = keyOf(change.type, change.id);
        if (waiting.has(key)) continue; // our own edit is on its way up and will decide
        if (change.op === 'delete') s.records.delete(key);
        else s.records.put({ key, type: change.type, id: change.id, data: change.data, version: change.version });
      }
    });
    if (page.changes.length) changed = true;
    if (page.next_cursor) {
      cursor = page.next_cursor;
      await store.kvSet('cursor', cursor);
    }
    if (!page.has_more) break;
  }
  return changed;
}

// --- the loop -------------------------------------------------------------------------

let running = null;
let again = false;

/** Uploads what waits, then reads the changes feed. Concurrent calls share one run (and
 * ask for one more pass). Never throws: the state is in `status`. */
export function syncNow() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    status.syncing = true;
    notify('status');
    do {
      again = false;
      try {
        const uploaded = await upload();
        const pulled = await pull();
        status.online = true;
        if (uploaded || pulled) notify('change');
      } catch (error) {
        if (error instanceof api.Offline) status.online = false;
        else if (error instanceof api.AuthLost) notify('auth-lost');
        else status.online = navigator.onLine;
        break;
      }
    } while (again);
    status.syncing = false;
    await countStatus();
  })().finally(() => {
    running = null;
  });
  return running;
}

let timer = null;

/** Starts syncing for a signed-in patient: now, when the network returns, when the app
 * comes back to the foreground, and every 20 s. */
export function start() {
  stop();
  window.addEventListener('online', syncNow);
  window.addEventListener('focus', syncNow);
  document.addEventListener('visibilitychange', onVisible);
  timer = setInterval(syncNow, 20000);
  countStatus();
  return syncNow();
}

export function stop() {
  window.removeEventListener('online', syncNow);
  window.removeEventListener('focus', syncNow);
  document.removeEventListener('visibilitychange', onVisible);
  if (timer) clearInterval(timer);
  timer = null;
}

function onVisible() {
  if (document.visibilityState === 'visible') syncNow();
}

/** A refused write, decided by the user: send mine again over the server's current version,
 * or take the server's. */
export async function keepMine(key) {
  const conflict = await store.get('conflicts', key);
  if (!conflict) return;
  const theirs = await fetchRecord(conflict.type, conflict.id);
  await store.write(['records', 'outbox', 'conflicts'], (s) => {
    s.conflicts.delete(key);
    s.outbox.put({
      key, type: conflict.type, id: conflict.id, op: conflict.op, body: conflict.mine,
      base_version: theirs ? theirs.version : null, queued_at: Date.now(),
    });
    if (conflict.op === 'put') {
      s.records.put({ key, type: conflict.type, id: conflict.id, data: { ...conflict.mine, id: conflict.id }, version: theirs ? theirs.version : null });
    } else {
      s.records.delete(key);
    }
  });
  notify('change');
  await countStatus();
  return syncNow();
}

export async function useTheirs(key) {
  const conflict = await store.get('conflicts', key);
  if (!conflict) return;
  let theirs = null;
  try {
    theirs = await fetchRecord(conflict.type, conflict.id);
  } catch {
    theirs = conflict.theirs;
  }
  await store.write(['records', 'conflicts'], (s) => {
    s.conflicts.delete(key);
    if (theirs) s.records.put({ key, type: conflict.type, id: conflict.id, data: theirs, version: theirs.version });
    else s.records.delete(key);
  });
  notify('change');
  await countStatus();
}

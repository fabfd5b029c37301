// The API client: the access token lives in memory only; the refresh token is kept in
// IndexedDB so that a reload (also one that starts offline) can resume the session. Every
// refresh returns a new refresh token, which is stored before the new access token is used.
import * as store from './store.js';

/** The network is unreachable: the write stays in the outbox and is retried later. */
export class Offline extends Error {}
/** The session has ended (signed out elsewhere, refresh token refused): sign in again. */
export class AuthLost extends Error {}
/** The API answered with an error; `problem` is its problem+json body (or null). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let accessToken = null;
let accessExpires = 0;
let refreshing = null;

async function send(url, init) {
  try {
    return await fetch(url, { credentials: 'same-origin', cache: 'no-store', ...init });
  } catch {
    throw new Offline('offline');
  }
}

async function tokenRequest(form) {
  const response = await send('/v1/auth/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    throw new ApiError(response.status, problem);
  }
  const tokens = await response.json();
  await store.kvSet('refresh_token', tokens.refresh_token);
  accessToken = tokens.access_token;
  accessExpires = Date.now() + Math.max(tokens.expires_in - 30, 5) * 1000;
  return tokens;
}

async function rotate() {
  // Read the token only now: another tab of this browser may have rotated it already.
  const refreshToken = await store.kvGet('refresh_token');
  if (!refreshToken) throw new AuthLost('no session');
  try {
    await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
  } catch (error) {
    if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) {
      await store.kvDelete('refresh_token');
      throw new AuthLost('session ended');
    }
    throw error;
  }
}

/** A new access token; one refresh at a time in this tab, and across tabs when the browser
 * has Web Locks (two tabs replaying one refresh token would end the session). */
function refresh() {
  if (!refreshing) {
    const run = navigator.locks
      ? navigator.locks.request('paindiary-refresh', rotate)
      : rotate();
    refreshing = run.finally(() => { refreshing = null; });
  }
  return refreshing;
}

export async function signIn(email, password) {
  await tokenRequest({ grant_type: 'password', username: email, password });
}

export async function register(account) {
  const response = await send('/v1/auth/register', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(account),
  });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return response.json();
}

export async function signOut() {
  const refreshToken = await store.kvGet('refresh_token');
  if (refreshToken && accessToken) {
    try {
      await request('POST', '/v1/auth/revoke', { body: { refresh_token: refreshToken } });
    } catch {
      // Offline or already ended: the device forgets the tokens either way.
    }
  }
  accessToken = null;
  accessExpires = 0;
}

/** The Response of an authorised call; refreshes the access token when needed. Throws
 * Offline when the network is down, AuthLost when the session cannot be renewed. */
export async function request(method, path, { body, headers = {} } = {}) {
  if (!accessToken || Date.now() > accessExpires) await refresh();
  const attempt = () => {
    const init = { method, headers: { ...headers, Authorization: `Bearer ${accessToken}` } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return send(path, init);
  };
  let response = await attempt();
  if (response.status === 401) {
    await refresh();
    response = await attempt();
    if (response.status === 401) throw new AuthLost('unauthorised');
  }
  return response;
}

/** The JSON body of a successful call (null for 204); ApiError otherwise. */
export async function json(method, path, body) {
  const response = await request(method, path, { body });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return response.status === 204 ? null : response.json();
}

export const getJson = (path) => json('GET', path);

/** A binary body as a Blob (charts and downloads need the bearer token, so no plain URL). */
export async function blob(path, accept) {
  const response = await request('GET', path, { headers: accept ? { Accept: accept } : {} });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return response.blob();
}

/** The signed-in user after a reload: refreshed online, or the copy kept on this device when
 * the network is down; null when there is no session. */
export async function resume() {
  const refreshToken = await store.kvGet('refresh_token');
  if (!refreshToken) return null;
  const saved = await store.kvGet('me');
  try {
    await refresh();
    const me = await getJson('/v1/me');
    await store.kvSet('me', me);
    return me;
  } catch (error) {
    if (error instanceof AuthLost) return null;
    if (saved) return saved;
    throw error;
  }
}

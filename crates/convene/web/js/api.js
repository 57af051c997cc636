// REST client for /api/v1. Same origin, session cookie `convene_sid`.
// Every failure becomes an ApiError carrying the server's {"error":{"code","message"}}.
import { t } from './i18n.js';

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // HTTP status, 0 for a network failure
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from a Retry-After header when present
  }
}

const BASE = '/api/v1';

// Listeners told when a request comes back 401 (the session ended).
const unauthorizedListeners = new Set();
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

function fallbackMessage(status) {
  if (status === 401) return t('api.session_ended');
  if (status === 403) return t('api.forbidden');
  if (status === 404) return t('api.not_found');
  if (status === 429) return t('api.too_many');
  if (status >= 500) return t('api.server_problem', { status });
  return t('api.failed', { status });
}

/** The server writes messages in lower case ("login must be …"); show them as sentences. */
export function sentence(message) {
  if (typeof message !== 'string' || !message) return '';
  const m = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?…)]$/.test(m) ? m : `${m}.`;
}

/**
 * Performs one API request.
 * @param {string} method
 * @param {string} path  path below /api/v1, starting with '/'
 * @param {object} [body] JSON body
 * @param {{signal?: AbortSignal, quiet401?: boolean, withStatus?: boolean}} [opts]
 * @returns the parsed JSON body (null when empty), or {status, data} with opts.withStatus
 */
export async function request(method, path, body, opts = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    signal: opts.signal,
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', t('api.network'));
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = data && data.error ? data.error : {};
    const retry = Number.parseInt(res.headers.get('Retry-After') || '', 10);
    const error = new ApiError(
      res.status,
      e.code || `http_${res.status}`,
      sentence(e.message) || fallbackMessage(res.status),
      Number.isFinite(retry) ? retry : null,
    );
    if (res.status === 401 && !opts.quiet401) {
      for (const fn of unauthorizedListeners) fn(error);
    }
    throw error;
  }
  return opts.withStatus ? { status: res.status, data } : data;
}

export const api = {
  get: (path, opts) => request('GET', path, undefined, opts),
  post: (path, body, opts) => request('POST', path, body ?? {}, opts),
  put: (path, body, opts) => request('PUT', path, body, opts),
  del: (path, opts) => request('DELETE', path, undefined, opts),

  // Session
  login: (login, password) =>
    request('POST', '/login', { login, password, client: 'web' }, { quiet401: true }),
  logout: () => request('POST', '/logout', {}, { quiet401: true }),
  me: () => request('GET', '/me', undefined, { quiet401: true }),
  updateMe: (profile) => request('PUT', '/me', profile),
  changePassword: (current, next) => request('POST', '/me/password', { current, new: next }),

  // Rooms
  rooms: (opts) => request('GET', '/rooms', undefined, opts),
  room: (id) => request('GET', `/rooms/${encodeURIComponent(id)}`),
  createRoom: (room) => request('POST', '/rooms', room),
  updateRoom: (id, room) => request('PUT', `/rooms/${encodeURIComponent(id)}`, room),
  deleteRoom: (id) => request('DELETE', `/rooms/${encodeURIComponent(id)}`),
  enterRoom: (id, opts) => request('POST', `/rooms/${encodeURIComponent(id)}/enter`, {}, opts),
  roomParticipants: (id) => request('GET', `/rooms/${encodeURIComponent(id)}/participants`),

  // Recordings of a room (issue 11)
  recordings: (roomId, opts) => request('GET', `/rooms/${encodeURIComponent(roomId)}/recordings`, undefined, opts),
  startRecording: (roomId) => request('POST', `/rooms/${encodeURIComponent(roomId)}/recordings`, {}),
  stopRecording: (id) => request('POST', `/recordings/${encodeURIComponent(id)}/stop`, {}),
  recording: (id, opts) => request('GET', `/recordings/${encodeURIComponent(id)}`, undefined, opts),
  renameRecording: (id, name) => request('PUT', `/recordings/${encodeURIComponent(id)}`, { name }),
  deleteRecording: (id) => request('DELETE', `/recordings/${encodeURIComponent(id)}`),
  retryRecording: (id) => request('POST', `/recordings/${encodeURIComponent(id)}/retry`, {}),

  // Users (admin)
  users: (opts) => request('GET', '/users', undefined, opts),
  /** Who may be chosen as a room's member or moderator (organisers and admins): [{id, login, display_name}]. */
  people: (opts) => request('GET', '/people', undefined, opts),
  createUser: (user) => request('POST', '/users', user),
  updateUser: (id, patch) => request('PUT', `/users/${encodeURIComponent(id)}`, patch),
  deleteUser: (id) => request('DELETE', `/users/${encodeURIComponent(id)}`),

  // Cluster (reading the server list: any account; the rest: admin)
  servers: (opts) => request('GET', '/servers', undefined, opts),
  createServer: (server) => request('POST', '/servers', server),
  updateServer: (id, patch) => request('PUT', `/servers/${encodeURIComponent(id)}`, patch),
  drainServer: (id, deadlineSeconds) =>
    request('POST', `/servers/${encodeURIComponent(id)}/drain`, { deadline_seconds: deadlineSeconds }),
  connections: (opts) => request('GET', '/connections', undefined, opts),
  /** Resolves to 204 (kicked) or 202 (another node was asked and has not confirmed yet). */
  kickConnection: async (id) =>
    (await request('DELETE', `/connections/${encodeURIComponent(id)}`, undefined, { withStatus: true })).status,
};

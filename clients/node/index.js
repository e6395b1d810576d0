// warmup-client - the Node.js client of the warmup service: tell it what
// users do (usage events), what they are about to do (intents), and ask
// what they will need next (predict-and-warm), over the HTTP API of
// warmup's proxy (docs/proxy.md, docs/integration.md). No native module:
// Node's own fetch (Node 18 or later).
//
// Every call checks its arguments with the bounds the service applies and
// throws a WarmupError naming the field, before anything is sent; a
// refusal by the service throws one with its HTTP status and field.

const TASKS = ['completion', 'chat', 'embedding', 'rerank', 'edit', 'review'];
const OUTCOMES = ['unknown', 'warm', 'delayed', 'cold', 'uncacheable'];
const PRIORITIES = ['low', 'normal', 'high'];
const KIND = /^[a-z0-9._-]{1,48}$/;
const BATCH_MAX = 1000;

/** An error of the client or of the service. */
export class WarmupError extends Error {
  constructor(message, { status = 0, field = '', code = 'EINVAL' } = {}) {
    super(message);
    this.name = 'WarmupError';
    this.status = status; // HTTP status of a refusal (0: not from the service)
    this.field = field;   // the field at fault ("[2].model" in a batch), or ""
    this.code = code;     // EINVAL, EREFUSED, EIO, ETIMEDOUT, EPROTO
  }
}

// Check one text field: a string of at most max bytes without control
// characters; required fields must be non-empty.
function text(where, name, value, max, required) {
  if (value === undefined || value === null || value === '') {
    if (required) throw new WarmupError(`${name} is required`, { field: where + name });
    return;
  }
  if (typeof value !== 'string') throw new WarmupError(`${name} must be a string`, { field: where + name });
  const bytes = Buffer.byteLength(value);
  if (bytes > max) throw new WarmupError(`${name} is ${bytes} bytes (at most ${max})`, { field: where + name });
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new WarmupError(`${name} holds a control character`, { field: where + name });
}

// Check an enum field given by name.
function oneOf(where, name, value, names) {
  if (value === undefined || value === null || value === '') return;
  if (!names.includes(value)) throw new WarmupError(`${name} must be one of ${names.join(', ')}`, { field: where + name });
}

// Check a whole number field.
function count(where, name, value, max) {
  if (value === undefined || value === null) return;
  if (!Number.isInteger(value) || value < 0 || value > max) throw new WarmupError(`${name} must be a whole number 0..${max}`, { field: where + name });
}

// Check the keys of an event against the fields it may have.
function known(where, event, fields) {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new WarmupError('an event must be an object', { field: where });
  for (const key of Object.keys(event)) {
    if (!fields.includes(key)) throw new WarmupError(`unknown field ${key} (${fields.join(', ')})`, { field: where + key });
  }
}

const USAGE_FIELDS = ['user', 'model', 'task', 'event_ms', 'session', 'language', 'file_type',
  'project_files', 'input_tokens', 'priority', 'acceptable_latency_ms', 'outcome', 'wait_ms'];
const INTENT_FIELDS = ['user', 'kind', 'model', 'language', 'event_ms', 'session', 'file_type', 'task'];

/** Check a usage event (throws WarmupError). */
export function checkUsage(usage, where = '') {
  known(where, usage, USAGE_FIELDS);
  text(where, 'user', usage.user, 256, true);
  text(where, 'model', usage.model, 200, true);
  text(where, 'session', usage.session, 256, false);
  text(where, 'language', usage.language, 64, false);
  text(where, 'file_type', usage.file_type, 64, false);
  oneOf(where, 'task', usage.task, TASKS);
  oneOf(where, 'outcome', usage.outcome, OUTCOMES);
  oneOf(where, 'priority', usage.priority, PRIORITIES);
  count(where, 'event_ms', usage.event_ms, Number.MAX_SAFE_INTEGER);
  for (const n of ['project_files', 'input_tokens', 'acceptable_latency_ms', 'wait_ms']) count(where, n, usage[n], 0xffffffff);
}

/** Check an intent (throws WarmupError). */
export function checkIntent(intent, where = '') {
  known(where, intent, INTENT_FIELDS);
  text(where, 'user', intent.user, 256, true);
  if (typeof intent.kind !== 'string' || !KIND.test(intent.kind)) {
    throw new WarmupError(`kind must be 1..48 characters of [a-z0-9._-], e.g. chat.opened`, { field: where + 'kind' });
  }
  text(where, 'model', intent.model, 200, false);
  text(where, 'session', intent.session, 256, false);
  text(where, 'language', intent.language, 64, false);
  text(where, 'file_type', intent.file_type, 64, false);
  oneOf(where, 'task', intent.task, TASKS);
  count(where, 'event_ms', intent.event_ms, Number.MAX_SAFE_INTEGER);
}

// One event or a batch of 1..1000, each checked; returns the body.
function batch(events, check) {
  if (!Array.isArray(events)) {
    check(events);
    return events;
  }
  if (events.length < 1 || events.length > BATCH_MAX) throw new WarmupError(`a batch holds 1..${BATCH_MAX} events, not ${events.length}`);
  events.forEach((event, i) => check(event, `[${i}].`));
  return events;
}

/** A client of one warmup service. */
export class WarmupClient {
  /**
   * @param {object} options
   * @param {string} options.url  the proxy's listener, e.g. "http://127.0.0.1:11435"
   * @param {string} [options.token]  sent as "Authorization: Bearer <token>"
   * @param {string} [options.user]  sent as X-Warmup-User: who predict() is for by default
   * @param {number} [options.timeoutMs]  bound of each call, ms (default 5000)
   */
  constructor({ url, token, user, timeoutMs = 5000 } = {}) {
    if (typeof url !== 'string' || !/^https?:\/\/[^/]+/.test(url)) throw new WarmupError(`url must be http(s)://host:port, not ${url}`, { field: 'url' });
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new WarmupError('timeoutMs must be a positive whole number', { field: 'timeoutMs' });
    if (user !== undefined) text('', 'user', user, 256, true);
    this.url = url.replace(/\/+$/, '');
    this.timeoutMs = timeoutMs;
    this.headers = { 'Content-Type': 'application/json' };
    if (token) this.headers.Authorization = `Bearer ${token}`;
    if (user) this.headers['X-Warmup-User'] = user;
  }

  // POST a JSON body; the answer's JSON, or a WarmupError.
  async #post(path, body, timeoutMs = this.timeoutMs) {
    const target = this.url + path;
    let response;
    try {
      response = await fetch(target, {
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if (error.name === 'TimeoutError' || error.name === 'AbortError') {
        throw new WarmupError(`${target}: no answer within ${timeoutMs} ms`, { code: 'ETIMEDOUT' });
      }
      throw new WarmupError(`${target}: ${error.cause?.code || error.message}`, { code: 'EIO' });
    }
    const raw = await response.text();
    let answer = null;
    try {
      answer = raw ? JSON.parse(raw) : null;
    } catch {
      answer = null;
    }
    if (!response.ok) {
      const message = answer?.error || raw.slice(0, 200);
      throw new WarmupError(`${target}: HTTP ${response.status}: ${message}`,
        { status: response.status, field: answer?.field || '', code: response.status >= 500 ? 'EIO' : 'EREFUSED' });
    }
    if (typeof answer !== 'object' || answer === null) throw new WarmupError(`${target}: the answer is not a JSON object`, { code: 'EPROTO' });
    return answer;
  }

  /**
   * Report requests that reached a model: one usage event or an array.
   * Resolves to the number the service accepted.
   */
  async observe(usage) {
    const answer = await this.#post('/warmup/v1/usage', batch(usage, checkUsage));
    return answer.accepted;
  }

  /** Send intents (one or an array); resolves to the number accepted. */
  async intent(intent) {
    const answer = await this.#post('/warmup/v1/intent', batch(intent, checkIntent));
    return answer.accepted;
  }

  /**
   * Predict and warm: the service's latest prediction for the user (default:
   * the caller, as the proxy counts it), highest probability first; the
   * cold models likely enough are warmed unless warm is false.
   */
  async predict({ user, task, priority, acceptable_latency_ms, warm, timeoutMs } = {}) {
    text('', 'user', user, 256, false);
    oneOf('', 'task', task, TASKS);
    oneOf('', 'priority', priority, PRIORITIES);
    count('', 'acceptable_latency_ms', acceptable_latency_ms, 0xffffffff);
    if (warm !== undefined && typeof warm !== 'boolean') throw new WarmupError('warm must be true or false', { field: 'warm' });
    const body = {};
    if (user) body.user = user;
    if (task) body.task = task;
    if (priority) body.priority = priority;
    if (acceptable_latency_ms) body.acceptable_latency_ms = acceptable_latency_ms;
    if (warm === false) body.warm = false;
    const answer = await this.#post('/warmup/v1/predict', body, timeoutMs ?? this.timeoutMs);
    if (!Array.isArray(answer.models)) throw new WarmupError('the predict answer has no models list', { code: 'EPROTO' });
    return answer;
  }
}

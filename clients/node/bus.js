// warmup-client/bus - the warmup bus from Node.js, through the `zeromq`
// and `protobufjs` npm packages (peer dependencies: install them beside
// this package when you want the bus; the HTTP client needs neither).
//
// Publishes usage events and intents as the service's own events, and
// receives the predictions and warmup.done events subscribed to. The
// envelope is the service's (bus/wp_bus.h): a topic frame, then one
// protobuf payload whose field 1 is a Header stamped here (source, a
// sequence number per topic from 1, the send time, the schema number).
// Ready once a probe published on "_probe.<source>" came back through the
// bus: from then on nothing subscribed to is missed.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { WarmupError, checkUsage, checkIntent } from './index.js';

const TOPICS = { prediction: 'prediction.made', 'warmup.done': 'warmup.done' };
const QUEUE_MAX = 10000;
const here = dirname(fileURLToPath(import.meta.url));

// The schema: the package's copy (npm pack copies it), else the
// repository's when run from clients/node.
function schemaPath() {
  for (const path of [join(here, 'warmup.proto'), join(here, '..', '..', 'schemas', 'warmup.proto')]) {
    if (existsSync(path)) return path;
  }
  throw new WarmupError('warmup.proto not found beside bus.js (npm pack copies it)', { code: 'EINVAL' });
}

// An optional peer dependency, or an error saying how to get it.
async function need(name) {
  try {
    return await import(name);
  } catch (error) {
    throw new WarmupError(`the bus needs the npm package ${name} (npm install ${name}): ${error.message}`, { code: 'EINVAL' });
  }
}

// A key from a certificate file in czmq's format (warmupctl keygen).
function certKey(path, which) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new WarmupError(`cannot read ${path}: ${error.code || error.message}`, { field: path });
  }
  const match = text.match(new RegExp(`${which}-key\\s*=\\s*"([^"]{40})"`));
  if (!match) throw new WarmupError(`${path} holds no ${which} key (a certificate of warmupctl keygen)`, { field: path });
  return match[1];
}

/** A client of the warmup bus. Make one with WarmupBus.connect(). */
export class WarmupBus {
  #zmq; #types; #pub; #sub; #source; #seq = new Map(); #queue = []; #waiters = [];
  #ready = false; #probe; #closed = false; #dropped = 0;

  /**
   * Connect, subscribe and wait until the path through the bus works.
   * @param {object} options
   * @param {string} options.publish  the bus's publishers' endpoint, e.g. "tcp://127.0.0.1:5701"
   * @param {string} options.subscribe  its subscribers' endpoint, e.g. "tcp://127.0.0.1:5702"
   * @param {string} [options.serverKey]  the bus's public certificate file (keys/server.key): CURVE
   * @param {string} [options.clientCert]  this client's certificate (its public file, FILE_secret beside it)
   * @param {string[]} [options.events]  "prediction", "warmup.done"
   * @param {string} [options.source]  the name published under (default node/<pid>-<random>)
   * @param {number} [options.timeoutMs]  bound of connecting (default 5000)
   */
  static async connect(options = {}) {
    const bus = new WarmupBus();
    await bus.#open(options);
    return bus;
  }

  async #open({ publish, subscribe, serverKey, clientCert, events = [], source, timeoutMs = 5000 }) {
    if (typeof publish !== 'string' || typeof subscribe !== 'string') throw new WarmupError('publish and subscribe endpoints are required', { field: 'publish' });
    for (const event of events) {
      if (!TOPICS[event]) throw new WarmupError(`unknown event ${event} (prediction, warmup.done)`, { field: 'events' });
    }
    const curve = {};
    if (serverKey) {
      if (!clientCert) throw new WarmupError('serverKey needs clientCert (a certificate the service admits: warmupctl keygen, then keys/allowed/)', { field: 'clientCert' });
      curve.curveServerKey = certKey(serverKey, 'public');
      curve.curvePublicKey = certKey(clientCert, 'public');
      curve.curveSecretKey = certKey(`${clientCert}_secret`, 'secret');
    }
    this.#zmq = await need('zeromq');
    const protobuf = await need('protobufjs');
    //  keepCase: the schema's own field names (event_ms, not eventMs).
    const pb = protobuf.default || protobuf;
    const root = new pb.Root().loadSync(schemaPath(), { keepCase: true });
    this.#types = {
      'usage.observed': root.lookupType('warmup.v1.UsageObserved'),
      'usage.intent': root.lookupType('warmup.v1.UsageIntent'),
      'prediction.made': root.lookupType('warmup.v1.PredictionMade'),
      'warmup.done': root.lookupType('warmup.v1.WarmupDone'),
    };
    this.#source = source || `node/${process.pid}-${randomBytes(4).toString('hex')}`;
    this.#probe = `_probe.${this.#source}`;
    this.#pub = new this.#zmq.Publisher({ linger: 1000, ...curve });
    this.#sub = new this.#zmq.Subscriber({ ...curve });
    try {
      this.#pub.connect(publish);
      this.#sub.connect(subscribe);
    } catch (error) {
      this.close();
      throw new WarmupError(`bad bus endpoints ${publish} / ${subscribe}: ${error.message}`, { field: 'publish' });
    }
    for (const event of events) this.#sub.subscribe(TOPICS[event]);
    this.#sub.subscribe(this.#probe);
    this.#read();
    const deadline = Date.now() + timeoutMs;
    for (let retry = 10; !this.#ready && Date.now() < deadline; retry = Math.min(retry * 2, 200)) {
      await this.#pub.send([this.#probe, Buffer.alloc(0)]);
      await this.#wait(Math.min(retry, deadline - Date.now()), () => this.#ready);
    }
    if (!this.#ready) {
      this.close();
      throw new WarmupError(`no bus at ${publish} / ${subscribe} within ${timeoutMs} ms (is warmupd running${serverKey ? ', and is this client\'s key in its keys/allowed/' : '; on tcp:// it needs serverKey'}?)`, { code: 'ETIMEDOUT' });
    }
    this.#sub.unsubscribe(this.#probe);
  }

  // Receive for as long as the socket lives: probes set ready, events
  // are decoded into the queue (bounded: the oldest dropped, counted).
  async #read() {
    try {
      for await (const [topic, payload] of this.#sub) {
        const name = topic.toString();
        if (name === this.#probe) this.#ready = true;
        else {
          const event = this.#decode(name, payload);
          if (event) {
            if (this.#queue.length >= QUEUE_MAX) {
              this.#queue.shift();
              this.#dropped++;
            }
            this.#queue.push(event);
          }
        }
        this.#waiters.splice(0).forEach((wake) => wake());
      }
    } catch (error) {
      //  The socket failed or was closed: waiters wake to find nothing.
      if (!this.#closed) this.error = error;
      this.#closed = true;
      this.#waiters.splice(0).forEach((wake) => wake());
    }
  }

  // An event as the client hands it out; null when it does not decode.
  #decode(topic, payload) {
    const type = this.#types[topic];
    if (!type || (topic !== 'prediction.made' && topic !== 'warmup.done')) return null;
    let message;
    try {
      message = type.toObject(type.decode(payload), { longs: Number, enums: String, defaults: true });
    } catch {
      return null;
    }
    if (topic === 'prediction.made') {
      return {
        type: 'prediction', event_ms: message.event_ms, user: message.user, horizon_s: message.horizon_s,
        models: message.models.map((m) => ({ model: m.model, probability: m.probability, confidence: m.confidence, expected_in_ms: m.expected_in_ms })),
      };
    }
    return {
      type: 'warmup.done', event_ms: message.event_ms, model: message.model, warm: message.action === 'ACTION_WARM',
      ok: message.ok, error: message.error, reason: message.reason, backend: message.backend,
      duration_ms: message.duration_ms, memory_mb: message.memory_mb,
    };
  }

  // Wait up to ms for done() to hold (woken by each message received).
  #wait(ms, done) {
    if (done() || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      const self = this;
      let finished = false;
      function finish() {
        finished = true;
        clearTimeout(timer);
        resolve();
      }
      function wake() {
        if (finished) return;
        if (done() || self.#closed) finish();
        else self.#waiters.push(wake);
      }
      this.#waiters.push(wake);
    });
  }

  // Stamp a header and publish.
  async #publish(topic, fields) {
    if (this.#closed) throw new WarmupError('the bus client is closed', { code: 'EIO' });
    const seq = (this.#seq.get(topic) || 0) + 1;
    this.#seq.set(topic, seq);
    const type = this.#types[topic];
    const header = { source: this.#source, seq, sent_us: Date.now() * 1000, schema: 1 };
    const payload = type.encode(type.fromObject({ header, ...fields })).finish();
    try {
      await this.#pub.send([topic, payload]);
    } catch (error) {
      throw new WarmupError(`publishing ${topic} failed: ${error.message}`, { code: 'EIO' });
    }
  }

  // The fields of an event as the schema names them (enums by name).
  static #fields(event) {
    const fields = { ...event, event_ms: event.event_ms || Date.now() };
    if (event.task) fields.task = `TASK_${event.task.toUpperCase()}`;
    if (event.outcome) fields.outcome = `OUTCOME_${event.outcome.toUpperCase()}`;
    if (event.priority) fields.priority = `PRIORITY_${event.priority.toUpperCase()}`;
    return fields;
  }

  /** Publish a usage event (checked first; no answer awaited). */
  async observe(usage) {
    checkUsage(usage);
    await this.#publish('usage.observed', WarmupBus.#fields(usage));
  }

  /** Publish an intent (checked first; no answer awaited). */
  async intent(intent) {
    checkIntent(intent);
    await this.#publish('usage.intent', WarmupBus.#fields(intent));
  }

  /**
   * The next subscribed event, waiting up to timeoutMs (default: forever);
   * null when none came in time.
   */
  async next(timeoutMs = Infinity) {
    await this.#wait(timeoutMs === Infinity ? 2 ** 31 - 1 : timeoutMs, () => this.#queue.length > 0 || this.#closed);
    return this.#queue.shift() || null;
  }

  /** Events dropped because nobody took them (QUEUE_MAX waiting). */
  get dropped() {
    return this.#dropped;
  }

  /** Close both sockets; events published just before are still sent. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#pub?.close();
    this.#sub?.close();
    this.#waiters.splice(0).forEach((wake) => wake());
  }
}


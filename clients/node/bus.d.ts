// Types of warmup-client/bus (bus.js): the warmup bus through the
// `zeromq` and `protobufjs` npm packages.
import type { Usage, Intent } from './index.js';

export interface BusOptions {
  /** The bus's publishers' endpoint, e.g. "tcp://127.0.0.1:5701". */
  publish: string;
  /** Its subscribers' endpoint, e.g. "tcp://127.0.0.1:5702". */
  subscribe: string;
  /** The bus's public certificate file (<data_dir>/keys/server.key): CURVE on. */
  serverKey?: string;
  /** This client's certificate (public file; FILE_secret beside it). */
  clientCert?: string;
  /** Events to receive. */
  events?: Array<'prediction' | 'warmup.done'>;
  /** The name published under (default node/<pid>-<random>). */
  source?: string;
  /** Bound of connecting, ms (default 5000). */
  timeoutMs?: number;
}

export interface PredictionEvent {
  type: 'prediction';
  event_ms: number;
  /** The user as the service holds it (a keyed hash). */
  user: string;
  horizon_s: number;
  models: Array<{ model: string; probability: number; confidence: number; expected_in_ms: number }>;
}

export interface WarmupDoneEvent {
  type: 'warmup.done';
  event_ms: number;
  model: string;
  /** true: loaded; false: unloaded. */
  warm: boolean;
  ok: boolean;
  error: string;
  reason: string;
  backend: string;
  duration_ms: number;
  memory_mb: number;
}

export type BusEvent = PredictionEvent | WarmupDoneEvent;

export class WarmupBus {
  static connect(options: BusOptions): Promise<WarmupBus>;
  /** Publish a usage event (checked first; no answer awaited). */
  observe(usage: Usage): Promise<void>;
  /** Publish an intent (checked first; no answer awaited). */
  intent(intent: Intent): Promise<void>;
  /** The next subscribed event, or null when none came within timeoutMs. */
  next(timeoutMs?: number): Promise<BusEvent | null>;
  /** Events dropped because nobody took them. */
  readonly dropped: number;
  close(): void;
}

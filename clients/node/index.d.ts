// Types of warmup-client (index.js): the warmup service's HTTP API.

export type Task = 'completion' | 'chat' | 'embedding' | 'rerank' | 'edit' | 'review';
export type Outcome = 'unknown' | 'warm' | 'delayed' | 'cold' | 'uncacheable';
export type Priority = 'low' | 'normal' | 'high';

/** A request that reached a model (warmup.v1.UsageObserved). */
export interface Usage {
  /** 1..256 bytes: the user as the IDE knows it (the service hashes it at once). */
  user: string;
  /** 1..200 bytes: the model as clients call it. */
  model: string;
  task?: Task;
  /** When, ms since the epoch (default: now). */
  event_ms?: number;
  session?: string;
  language?: string;
  file_type?: string;
  project_files?: number;
  input_tokens?: number;
  priority?: Priority;
  acceptable_latency_ms?: number;
  outcome?: Outcome;
  wait_ms?: number;
}

/** A sign that a model will be needed soon (warmup.v1.UsageIntent). */
export interface Intent {
  user: string;
  /** "chat.opened", "typing.started", "file.opened", "editor.focused",
   *  "review.requested", or another 1..48 characters of [a-z0-9._-]. */
  kind: string;
  /** The model expected, as a hint. */
  model?: string;
  language?: string;
  file_type?: string;
  session?: string;
  task?: Task;
  event_ms?: number;
}

export interface PredictRequest {
  /** Whose prediction (default: the caller, as the proxy counts it). */
  user?: string;
  /** Keep only models used for this task. */
  task?: Task;
  /** Priority of the warms asked for. */
  priority?: Priority;
  /** A model that loads faster than this is not warmed, ms. */
  acceptable_latency_ms?: number;
  /** Warm the likely cold models (default true). */
  warm?: boolean;
  timeoutMs?: number;
}

export interface PredictedModel {
  model: string;
  /** P(a request within the horizon), 0..1. */
  probability: number;
  confidence: number;
  expected_in_ms: number;
  state: 'warm' | 'loading' | 'cold' | string;
}

export interface Prediction {
  /** The user predicted for: as asked, or the caller as the proxy counts it. */
  user: string;
  horizon_s: number;
  threshold: number;
  models: PredictedModel[];
  /** The models this call asked to warm. */
  warming: string[];
}

export interface ClientOptions {
  /** The proxy's listener, e.g. "http://127.0.0.1:11435". */
  url: string;
  /** Sent as "Authorization: Bearer <token>". */
  token?: string;
  /** Sent as X-Warmup-User: who predict() is for by default. */
  user?: string;
  /** Bound of each call, ms (default 5000). */
  timeoutMs?: number;
}

export class WarmupError extends Error {
  /** HTTP status of a refusal (0: the client refused it). */
  status: number;
  /** The field at fault ("[2].model" in a batch), or "". */
  field: string;
  code: 'EINVAL' | 'EREFUSED' | 'EIO' | 'ETIMEDOUT' | 'EPROTO';
}

export class WarmupClient {
  constructor(options: ClientOptions);
  readonly url: string;
  /** Resolves to the number of events accepted. */
  observe(usage: Usage | Usage[]): Promise<number>;
  /** Resolves to the number of intents accepted. */
  intent(intent: Intent | Intent[]): Promise<number>;
  predict(request?: PredictRequest): Promise<Prediction>;
}

export function checkUsage(usage: Usage, where?: string): void;
export function checkIntent(intent: Intent, where?: string): void;

import type { Logger } from 'pino';
import type { Access } from '../auth/access.js';
import type { PublishRateLimit } from '../auth/rate-limit.js';
import type { Config } from '../config.js';
import type { CoarseTimer } from '../core/coarse-timer.js';
import type { OriginPolicy } from '../http/cors.js';
import type { Hub } from '../hub/hub.js';
import type { Metrics } from '../metrics.js';
import type { FlushScheduler } from './outbox.js';

/** What every transport is handed by server.ts; none of them builds its own. */
export interface ServerContext {
  config: Config;
  /** The only way to the engine: publish, read, info, subscribe. */
  hub: Hub;
  metrics: Metrics;
  logger: Logger;
  timer: CoarseTimer;
  /** One end-of-turn flush for every SSE and WebSocket connection's outbox. */
  flush: FlushScheduler;
  access: Access;
  rateLimit: PublishRateLimit;
  origins: OriginPolicy;
  /** True once shutdown began: new subscriptions are refused with 503. */
  isDraining(): boolean;
}

/** The package's public surface: embed a server, or plug in an engine. */
export { TidingsServer, startServer, type TidingsOptions } from './server.js';
export { loadConfig, configWith, SETTINGS, ConfigError, type Config } from './config.js';
export type { Engine, PublishRequest, PublishResult, ReadResult, ChannelState, HistoryLimits } from './engines/engine.js';
export { MemoryEngine } from './engines/memory.js';
export { Message, type Envelope, type GapNotice } from './core/message.js';
export { ERROR_CODES, TidingsError, type ErrorCode } from './core/errors.js';
export { CLOSE_REASONS, type CloseReason } from './core/close-reasons.js';

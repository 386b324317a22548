import { TidingsError } from '../core/errors.js';
import type { ApiKeyGuard } from './api-key.js';
import type { JwtVerifier } from './jwt.js';

/** `chat:*` → /^chat:.*$/. Only `*` is special: it matches any run of characters. */
function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

function matcher(patterns: readonly string[]): (channel: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.includes('*')));
  const globs = patterns.filter((p) => p.includes('*')).map(globToRegExp);
  return (channel) => exact.has(channel) || globs.some((g) => g.test(channel));
}

/** The one `token_expired` refusal: 401, and the client's remedy is a fresh token. */
export function tokenExpired(): TidingsError {
  return new TidingsError('token_expired', 'The token has expired; get a fresh one and resume by cursor.', {
    'www-authenticate': 'Bearer realm="tidings", error="invalid_token", error_description="token expired"',
  });
}

/**
 * The credential a client presented. Refusals follow RFC 6750 § 3.1: none or an invalid
 * one is 401 (authenticate, or again), a valid one that doesn't reach is 403.
 */
export type Credential = 'none' | 'invalid' | 'valid';

/** What one client may do: decided once per request or connection, asked per channel. */
export class Grants {
  private constructor(
    private readonly canPublish: (channel: string) => boolean,
    private readonly canSubscribe: (channel: string) => boolean,
    readonly credential: Credential,
    /** Seconds since the epoch after which these grants lapse (from the token's exp). */
    readonly expires: number | undefined,
    /** The token's `sub`, for logs: whose stream ended or changed. */
    readonly subject: string | undefined,
  ) {}

  static all(): Grants {
    return new Grants(() => true, () => true, 'valid', undefined, undefined);
  }

  static of(publish: (c: string) => boolean, subscribe: (c: string) => boolean, credential: Credential, expires?: number, subject?: string): Grants {
    return new Grants(publish, subscribe, credential, expires, subject);
  }

  /** When these grants lapse, in ms since the epoch; undefined when never. */
  get expiresAtMs(): number | undefined {
    return this.expires === undefined ? undefined : this.expires * 1000;
  }

  /** Whether a subscription to `channel` is covered, without throwing: used when a token is swapped. */
  maySubscribe(channel: string): boolean {
    return this.canSubscribe(channel);
  }

  private refuse(what: string, channel: string): never {
    if (this.credential === 'none') {
      throw new TidingsError('unauthorized', `${what} ${channel} needs credentials: Authorization: Bearer <token or api key>, or token=.`, {
        'www-authenticate': 'Bearer realm="tidings"',
      });
    }
    if (this.credential === 'invalid') {
      throw new TidingsError('unauthorized', 'The credential given is not valid.', { 'www-authenticate': 'Bearer realm="tidings", error="invalid_token"' });
    }
    throw new TidingsError('forbidden', `The credentials given do not grant ${what.toLowerCase()} ${channel}.`);
  }

  /** Throws `token_expired` once the token's exp has passed (a long connection outlives its token). */
  assertFresh(): void {
    if (this.expires !== undefined && Date.now() >= this.expires * 1000) throw tokenExpired();
  }

  assertPublish(channel: string): void {
    this.assertFresh();
    if (!this.canPublish(channel)) this.refuse('Publishing to', channel);
  }

  assertSubscribe(channel: string): void {
    this.assertFresh();
    if (!this.canSubscribe(channel)) this.refuse('Subscribing to', channel);
  }
}

/**
 * Who may do what (docs/protocol.md § Auth):
 * - nothing configured: everyone may do everything (development);
 * - `--api-key`: the key may do everything; without it, publishing is refused;
 * - `--jwt-secret` / `--jwks-url`: a token grants the channels in its `publish` and
 *   `subscribe` claims; without key or token, subscribing is refused too.
 */
export class Access {
  constructor(
    private readonly apiKey: ApiKeyGuard,
    private readonly jwt: JwtVerifier | undefined,
  ) {}

  get open(): boolean {
    return !this.apiKey.enabled && this.jwt === undefined;
  }

  /** With JWTs configured nothing is open to anonymous clients, so a connection needs a credential. */
  assertMayConnect(grants: Grants): void {
    if (this.jwt !== undefined && grants.credential === 'none') {
      throw new TidingsError('unauthorized', 'Connecting needs credentials: Authorization: Bearer <token>, or token= in the URL.', {
        'www-authenticate': 'Bearer realm="tidings"',
      });
    }
  }

  async identify(token: string | undefined): Promise<Grants> {
    if (this.open) return Grants.all();
    if (token !== undefined && this.apiKey.matches(token)) return Grants.all();
    if (this.jwt === undefined) {
      // Only an API key is configured: subscribing stays open, publishing needs the key.
      return Grants.of(() => false, () => true, token === undefined ? 'none' : 'invalid');
    }
    if (token === undefined) return Grants.of(() => false, () => false, 'none');
    const claims = await this.jwt.verify(token);
    return Grants.of(matcher(claims.publish), matcher(claims.subscribe), 'valid', claims.exp, claims.sub);
  }
}

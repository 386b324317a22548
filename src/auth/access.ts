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

/** What one client may do: decided once per request or connection, asked per channel. */
export class Grants {
  private constructor(
    private readonly canPublish: (channel: string) => boolean,
    private readonly canSubscribe: (channel: string) => boolean,
    /** No credential was given: refusals are 401, not 403. */
    readonly anonymous: boolean,
    readonly subject: string | undefined,
    /** Seconds since the epoch after which these grants lapse (from the token's exp). */
    readonly expires: number | undefined,
  ) {}

  static all(): Grants {
    return new Grants(() => true, () => true, false, undefined, undefined);
  }

  static of(publish: (c: string) => boolean, subscribe: (c: string) => boolean, anonymous: boolean, subject?: string, expires?: number): Grants {
    return new Grants(publish, subscribe, anonymous, subject, expires);
  }

  private refuse(what: string, channel: string): never {
    if (this.anonymous) {
      throw new TidingsError('unauthorized', `${what} ${channel} needs credentials: Authorization: Bearer <token or api key>, or token=.`, {
        'www-authenticate': 'Bearer realm="tidings"',
      });
    }
    throw new TidingsError('forbidden', `The credentials given do not grant ${what.toLowerCase()} ${channel}.`);
  }

  private assertFresh(): void {
    if (this.expires !== undefined && Date.now() >= this.expires * 1000) {
      throw new TidingsError('unauthorized', 'Authentication failed: the token has expired.');
    }
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
 * Who may do what (PROTOCOL.md § Auth):
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
    if (this.jwt !== undefined && grants.anonymous) {
      throw new TidingsError('unauthorized', 'Connecting needs credentials: Authorization: Bearer <token>, or token= in the URL.', {
        'www-authenticate': 'Bearer realm="tidings"',
      });
    }
  }

  async identify(token: string | undefined): Promise<Grants> {
    if (this.open) return Grants.all();
    if (token !== undefined && this.apiKey.enabled && this.apiKey.matches(token)) return Grants.all();
    const subscribeOpen = this.jwt === undefined;
    if (token === undefined || this.jwt === undefined) {
      // An API key that doesn't match is a wrong credential, not a missing one.
      if (token !== undefined && this.apiKey.enabled && this.jwt === undefined) {
        return Grants.of(() => false, () => subscribeOpen, false);
      }
      return Grants.of(() => false, () => subscribeOpen, true);
    }
    const claims = await this.jwt.verify(token);
    return Grants.of(matcher(claims.publish), matcher(claims.subscribe), false, claims.sub, claims.exp);
  }
}

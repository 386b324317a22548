import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { TidingsError } from '../core/errors.js';
import { tokenExpired } from './access.js';

/** The claims Tidings reads from a client's token (docs/protocol.md § Auth). */
export interface TokenClaims {
  /** Who the token speaks for; only logged, so an operator can tell whose stream ended. */
  sub: string | undefined;
  /** Seconds since the epoch, when set. */
  exp: number | undefined;
  subscribe: string[];
  publish: string[];
}

function patternList(payload: JWTPayload, claim: 'subscribe' | 'publish'): string[] {
  const value = payload[claim];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new TidingsError('unauthorized', `The token's "${claim}" claim must be a list of channel names or patterns.`);
  }
  return value;
}

const INVALID_TOKEN = { 'www-authenticate': 'Bearer realm="tidings", error="invalid_token"' };

/**
 * Verifies client JWTs with `jose`: HS256 with `--jwt-secret`, or the keys published at
 * `--jwks-url` (fetched and cached by jose, refreshed when an unknown key id shows up).
 */
export class JwtVerifier {
  /** jose's two key kinds take two overloads of jwtVerify: chosen once, here. */
  private readonly check: (token: string) => Promise<JWTPayload>;

  constructor(options: { secret?: string | undefined; jwksUrl?: string | undefined }) {
    if (options.secret !== undefined) {
      const key = new TextEncoder().encode(options.secret);
      this.check = async (token) => (await jwtVerify(token, key, { algorithms: ['HS256'] })).payload;
    } else if (options.jwksUrl !== undefined) {
      const keys = createRemoteJWKSet(new URL(options.jwksUrl));
      const algorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];
      this.check = async (token) => (await jwtVerify(token, keys, { algorithms })).payload;
    } else {
      throw new Error('JwtVerifier needs a secret or a JWKS URL');
    }
  }

  async verify(token: string): Promise<TokenClaims> {
    let payload: JWTPayload;
    try {
      // jose checks exp and nbf; a token without exp is accepted (the issuer's choice).
      payload = await this.check(token);
    } catch (err) {
      // An expired token has its own code: the client's remedy (a fresh token) differs from a forged one's.
      if ((err as { code?: string }).code === 'ERR_JWT_EXPIRED') throw tokenExpired();
      throw new TidingsError('unauthorized', 'Authentication failed: the token is not valid.', INVALID_TOKEN);
    }
    return { sub: payload.sub, exp: payload.exp, subscribe: patternList(payload, 'subscribe'), publish: patternList(payload, 'publish') };
  }
}

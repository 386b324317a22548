import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { TidingsError } from '../core/errors.js';

/** The claims Tidings reads from a client's token (PROTOCOL.md § Auth). */
export interface TokenClaims {
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

/**
 * Verifies client JWTs with `jose`: HS256 with `--jwt-secret`, or the keys published at
 * `--jwks-url` (fetched and cached by jose, refreshed when an unknown key id shows up).
 */
export class JwtVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(options: { secret?: string | undefined; jwksUrl?: string | undefined }) {
    if (options.secret !== undefined) {
      this.key = new TextEncoder().encode(options.secret);
      this.algorithms = ['HS256'];
    } else if (options.jwksUrl !== undefined) {
      this.key = createRemoteJWKSet(new URL(options.jwksUrl));
      this.algorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];
    } else {
      throw new Error('JwtVerifier needs a secret or a JWKS URL');
    }
  }

  async verify(token: string): Promise<TokenClaims> {
    let payload: JWTPayload;
    try {
      // jose checks exp and nbf; a token without exp is accepted (the issuer's choice).
      ({ payload } =
        typeof this.key === 'function'
          ? await jwtVerify(token, this.key, { algorithms: this.algorithms })
          : await jwtVerify(token, this.key, { algorithms: this.algorithms }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why = code === 'ERR_JWT_EXPIRED' ? 'the token has expired' : 'the token is not valid';
      throw new TidingsError('unauthorized', `Authentication failed: ${why}.`, { 'www-authenticate': 'Bearer realm="tidings", error="invalid_token"' });
    }
    return { sub: payload.sub, exp: payload.exp, subscribe: patternList(payload, 'subscribe'), publish: patternList(payload, 'publish') };
  }
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { Access } from '../../src/auth/access.js';
import { ApiKeyGuard } from '../../src/auth/api-key.js';
import { JwtVerifier } from '../../src/auth/jwt.js';
import { TidingsError } from '../../src/core/errors.js';

const SECRET = 'unit-test-secret-unit-test-secret';
const sign = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));

function code(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof TidingsError);
    return err.code;
  }
}

describe('Access', () => {
  it('is open when nothing is configured', async () => {
    const grants = await new Access(new ApiKeyGuard(undefined), undefined).identify(undefined);
    assert.equal(code(() => grants.assertPublish('a')), undefined);
    assert.equal(code(() => grants.assertSubscribe('a')), undefined);
  });

  it('with only an API key: publishing needs the key (401 without or with a wrong one), subscribing is open', async () => {
    const access = new Access(new ApiKeyGuard('k'), undefined);
    const anonymous = await access.identify(undefined);
    assert.equal(code(() => anonymous.assertPublish('a')), 'unauthorized');
    assert.equal(code(() => anonymous.assertSubscribe('a')), undefined);
    const wrong = await access.identify('nope');
    assert.equal(code(() => wrong.assertPublish('a')), 'unauthorized');
    const keyed = await access.identify('k');
    assert.equal(code(() => keyed.assertPublish('a')), undefined);
  });

  it('with JWTs: claims grant exact names and * globs, nothing else', async () => {
    const access = new Access(new ApiKeyGuard(undefined), new JwtVerifier({ secret: SECRET }));
    const grants = await access.identify(await sign({ subscribe: ['chat:*', 'news'], publish: ['chat:room.1'] }));
    assert.equal(code(() => grants.assertSubscribe('chat:anything/at:all')), undefined);
    assert.equal(code(() => grants.assertSubscribe('news')), undefined);
    assert.equal(code(() => grants.assertSubscribe('newsx')), 'forbidden');
    assert.equal(code(() => grants.assertSubscribe('xchat:a')), 'forbidden');
    assert.equal(code(() => grants.assertPublish('chat:room.1')), undefined);
    // "." in a pattern is a literal dot, not a regular-expression wildcard.
    assert.equal(code(() => grants.assertPublish('chat:roomx1')), 'forbidden');
    const anonymous = await access.identify(undefined);
    assert.equal(code(() => anonymous.assertSubscribe('news')), 'unauthorized');
    // Without an API key configured, no token is mistaken for one.
    await assert.rejects(access.identify('not-a-jwt'), (err: unknown) => err instanceof TidingsError && err.code === 'unauthorized');
    assert.throws(() => access.assertMayConnect(anonymous), /credentials/);
  });

  it('rejects a claim that is not a list of strings', async () => {
    const access = new Access(new ApiKeyGuard(undefined), new JwtVerifier({ secret: SECRET }));
    await assert.rejects(access.identify(await sign({ subscribe: 'chat:*' })), (err: unknown) => err instanceof TidingsError && err.code === 'unauthorized');
  });
});

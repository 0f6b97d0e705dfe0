/**
 * The dev key file on a real file system: a demo reuses a valid key it finds instead of
 * overwriting it, writes a new one (atomically, owner-only) only when there is none or it is
 * unusable or may have been read by others, and refuses a file it cannot trust (another
 * user's, or a symbolic link) without touching it.
 */
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDevSigner } from '../../src/auth/dev-keys.js';
import { createJwtVerifier } from '../../src/auth/verifier.js';
import { openDevSigner, readDevKeyFile } from '../../src/cli/dev-tokens.js';
import { ConfigError } from '../../src/config/config.js';

let dir: string;
let keyFile: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-dev-key-'));
  keyFile = join(dir, 'dev-key.json');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string): number => statSync(path).mode & 0o777;

/** Another user than the one running the tests (the file's owner is compared with it). */
const someoneElse = (process.getuid?.() ?? 0) + 1;

describe('openDevSigner', () => {
  it('creates the key file, owner-only, when there is none, and reuses it the next time', async () => {
    const a = await openDevSigner(keyFile);
    expect(mode(keyFile)).toBe(0o600);
    const written = readDevKeyFile(keyFile);
    expect(written).toMatchObject({ issuer: a.issuer, audience: a.audience, key: { kid: a.kid } });
    const b = await openDevSigner(keyFile);
    expect(b.kid).toBe(a.kid);
    // A token of one verifies with the other's JWKS: they are one key.
    const verifier = createJwtVerifier({ issuers: [b.options] });
    await expect(verifier.verify(await a.signUserToken(5))).resolves.toMatchObject({ userId: 5 });
    expect(readFileSync(keyFile, 'utf8')).toBe(JSON.stringify(written));
  });

  it('agrees on one key when several demos start at once, leaving no temporary files', async () => {
    const signers = await Promise.all(Array.from({ length: 8 }, () => openDevSigner(keyFile)));
    expect(new Set(signers.map((s) => s.kid)).size).toBe(1);
    expect(readDevKeyFile(keyFile).key.kid).toBe(signers[0]?.kid);
    expect(readdirSync(dir)).toEqual(['dev-key.json']);
  });

  it('replaces a file that is not a dev key (not JSON, another shape, a broken key pair)', async () => {
    const other = await (await createDevSigner()).exportPrivateJwk();
    const mine = await (await createDevSigner()).exportPrivateJwk();
    for (const content of [
      'not json',
      JSON.stringify({ issuer: 'x', audience: 'y' }),
      // The private half of one key with the public half of another cannot sign verifiable tokens.
      JSON.stringify({ issuer: 'x', audience: 'y', key: { ...mine, x: other.x, y: other.y } }),
    ]) {
      writeFileSync(keyFile, content, { mode: 0o600 });
      const signer = await openDevSigner(keyFile);
      expect(readDevKeyFile(keyFile).key.kid).toBe(signer.kid);
      expect(mode(keyFile)).toBe(0o600);
    }
  });

  it('replaces its own key file when other users may have read it (group or world bits set)', async () => {
    const before = await openDevSigner(keyFile);
    for (const bits of [0o640, 0o604, 0o660]) {
      chmodSync(keyFile, bits);
      const after = await openDevSigner(keyFile);
      expect(after.kid).not.toBe(before.kid);
      expect(mode(keyFile)).toBe(0o600);
      expect(readDevKeyFile(keyFile).key.kid).toBe(after.kid);
    }
  });

  it("refuses another user's key file, naming the setting, and leaves it as it is", async () => {
    await openDevSigner(keyFile);
    const content = readFileSync(keyFile, 'utf8');
    const err = await openDevSigner(keyFile, { owner: someoneElse }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      `the dev key file ${keyFile} belongs to another user, so its key cannot be trusted; set "SCOPEGATE_DEV_KEY_FILE" to a path of your own`,
    );
    expect(() => readDevKeyFile(keyFile, { owner: someoneElse })).toThrow((err as Error).message);
    expect(readFileSync(keyFile, 'utf8')).toBe(content);
  });

  it('refuses a symbolic link at the key path and does not follow it', async () => {
    const target = join(dir, 'elsewhere.json');
    await openDevSigner(target);
    const content = readFileSync(target, 'utf8');
    symlinkSync(target, keyFile);
    const err = await openDevSigner(keyFile).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      `the dev key file ${keyFile} is not a regular file (a symbolic link?); remove it or set "SCOPEGATE_DEV_KEY_FILE" to a path of your own`,
    );
    expect(readFileSync(target, 'utf8')).toBe(content);
  });
});

describe('readDevKeyFile (token mint)', () => {
  it('asks to start the demo when there is no key file', () => {
    expect(() => readDevKeyFile(keyFile)).toThrow(
      `no dev key at ${keyFile}: start the demo first ("npm start" or "scopegate serve --demo")`,
    );
  });

  it('does not sign with a key other users may have read', async () => {
    await openDevSigner(keyFile);
    chmodSync(keyFile, 0o644);
    expect(() => readDevKeyFile(keyFile)).toThrow(
      `no usable dev key at ${keyFile} (it is readable or writable by other users): start the demo, which replaces it`,
    );
  });
});

/** `token mint --user` names a seed user by login or by id, as `check --user` does. */
import { describe, expect, it } from 'vitest';
import { seedJobClaims, seedUser } from '../../src/cli/dev-tokens.js';
import { defaultSeedPath, loadSeedFile } from '../../src/demo/seed.js';

describe('seed users for token mint', () => {
  const seed = loadSeedFile(defaultSeedPath());

  it('finds a user by login or by id, and names one it does not have', () => {
    expect(seedUser(seed, 'carol').id).toBe(5);
    expect(seedUser(seed, '5').username).toBe('carol');
    expect(seedJobClaims(seed, 'acme/apps/web', '2', false)).toMatchObject({
      user_id: '2',
      user_login: 'bob',
    });
    expect(() => seedUser(seed, '999')).toThrow('no user "999" in the seed');
    expect(() => seedUser(seed, 'nobody')).toThrow('no user "nobody" in the seed');
  });
});

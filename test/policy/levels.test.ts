import { describe, expect, it } from 'vitest';
import {
  compareLevels,
  levelCovers,
  maxLevel,
  minLevel,
  parseLevel,
  roleCapFor,
} from '../../src/policy/levels.js';

describe('level helpers', () => {
  it('order NONE < READ < WRITE', () => {
    expect(compareLevels('NONE', 'READ')).toBeLessThan(0);
    expect(minLevel('WRITE', 'READ')).toBe('READ');
    expect(maxLevel('NONE', 'READ')).toBe('READ');
    expect(levelCovers('WRITE', 'READ')).toBe(true);
    expect(levelCovers('READ', 'WRITE')).toBe(false);
  });

  it('parse both spellings and nothing else', () => {
    expect(parseLevel('read')).toBe('READ');
    expect(parseLevel('WRITE')).toBe('WRITE');
    expect(parseLevel('admin')).toBeUndefined();
    expect(parseLevel(2)).toBeUndefined();
  });

  it('read the role cap from the ROLE_CAPS table', () => {
    expect(roleCapFor('RELEASES', 10)).toBe('READ');
    expect(roleCapFor('TAGS', 10)).toBe('NONE');
    expect(roleCapFor('MERGE_REQUEST_NOTES', 20)).toBe('WRITE');
    expect(roleCapFor('CONTAINERS', 0)).toBe('NONE');
  });
});

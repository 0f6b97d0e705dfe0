/**
 * The page counts behind `SCOPEGATE_MAX_PAGES`: the fast count (each field as written, each
 * fragment counted once for all its uses, an upper bound) and the merged count (fields under
 * one response key merged as execution merges them), which decides when the bound is over the
 * limit.
 */
import { parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildGatewaySchema } from '../../src/server/schema.js';
import { mergedOperationPages, operationPages } from '../../src/server/operation-cost.js';

const schema = buildGatewaySchema();

function counts(
  text: string,
  variables: Record<string, unknown> = {},
  budget?: number,
): { bound: number; merged: number | undefined } {
  const document = parse(text);
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === 'OperationDefinition',
  )!;
  return {
    bound: operationPages(schema, document, operation, variables),
    merged: mergedOperationPages(schema, document, operation, variables, budget),
  };
}

const repos = (tagsField = 'name') =>
  `containerRepositories(first: 60) { nodes { name tags(first: 2) { nodes { ${tagsField} } } } }`;

describe('merged page count', () => {
  it('counts a list repeated through fragments or side by side once, as execution runs it', () => {
    const viaFragments = counts(`
      { project(fullPath: "a/b") { ...A ...B } }
      fragment A on Project { ${repos('name')} }
      fragment B on Project { ${repos('location')} }`);
    // 1 page of 60 repositories + 60 pages of tags; written twice, run once.
    expect(viaFragments).toEqual({ bound: 122, merged: 61 });
    const sideBySide = counts(`{ project(fullPath: "a/b") { ${repos()} ${repos('location')} } }`);
    expect(sideBySide).toEqual({ bound: 122, merged: 61 });
    // Inline fragments on the parent's own type merge too.
    const inline = counts(
      `{ project(fullPath: "a/b") { ${repos()} ... on Project { ${repos()} } } }`,
    );
    expect(inline.merged).toBe(61);
  });

  it('keeps aliased lists apart: each alias is a list of its own', () => {
    expect(counts(`{ project(fullPath: "a/b") { a: ${repos()} b: ${repos()} } }`)).toEqual({
      bound: 122,
      merged: 122,
    });
  });

  it('merges the sub-selections of repeated fields: a list nested once under each copy is one list', () => {
    const text = `{ project(fullPath: "a/b") {
      containerRepositories(first: 10) { nodes { name } }
      containerRepositories(first: 10) { nodes { tags(first: 2) { nodes { name } } } }
      containerRepositories(first: 10) { nodes { t: tags(first: 2) { nodes { name } } } } } }`;
    // One list of 10 repositories, each with two lists of tags (tags and t).
    expect(counts(text).merged).toBe(1 + 10 * 2);
  });

  it('uses variables and skips fragments whose type cannot apply', () => {
    const text = `query($n: Int) { project(fullPath: "a/b") {
      ... on Project { containerRepositories(first: $n) { nodes { name } } }
      ... on Release { tagName } } }`;
    expect(counts(text, { n: 5 }).merged).toBe(1);
    expect(counts(text, { n: 0 }).merged).toBe(0);
  });

  it('walks a fragment spread 2^29 times in one selection set once, and gives up past its budget', () => {
    let doc = '{ project(fullPath: "a/b") { ...F1 } }\n';
    for (let i = 1; i < 30; i += 1)
      doc += `fragment F${i} on Project { ...F${i + 1} ...F${i + 1} }\n`;
    doc += 'fragment F30 on Project { releases(first: 1) { nodes { tagName } } }';
    expect(counts(doc)).toEqual({ bound: 2 ** 29, merged: 1 });
    // A budget too small to finish: no answer, so the upper bound stands.
    expect(counts(doc, {}, 10).merged).toBeUndefined();
  });
});

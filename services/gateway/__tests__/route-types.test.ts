import path from 'node:path';
import ts from 'typescript';

/*
 * The route schemas are where handlers' types come from: a handler that reads a body field its
 * schema lacks, or answers a field of another type, must fail the type check (tsc --noEmit in
 * `npm test`). Two fixtures under test/type-fixtures (outside the project's tsconfig) are compiled
 * with the project's compiler options: the one that agrees compiles clean, the one that disagrees
 * does not, at the lines that disagree.
 */

const root = path.join(__dirname, '..', '..', '..');

const FIXTURES = ['route-agrees.ts', 'route-disagrees.ts'].map((name) =>
  path.join(root, 'test', 'type-fixtures', name),
);

/** One program for both fixtures: loading fastify's and typebox's types is most of the time. */
function compile(): ts.Program {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (config === undefined) throw new Error('tsconfig.json did not parse');
  return ts.createProgram(FIXTURES, { ...config.options, noEmit: true });
}

let program: ts.Program;

beforeAll(() => {
  program = compile();
}, 120_000);

function diagnosticsOf(fixture: string): { line: number; code: number; text: string }[] {
  const file = path.join(root, 'test', 'type-fixtures', fixture);
  return ts
    .getPreEmitDiagnostics(program, program.getSourceFile(file))
    .filter((d) => d.file?.fileName === file)
    .map((d) => ({
      line: d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line + 1,
      code: d.code,
      text: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
    }));
}

describe('a route handler is type-checked against its schema', () => {
  it('a handler that answers what its schema says compiles', () => {
    expect(diagnosticsOf('route-agrees.ts')).toEqual([]);
  }, 60_000);

  it('a handler that reads a body field the schema lacks, or answers a wrongly typed field, does not', () => {
    const found = diagnosticsOf('route-disagrees.ts');
    // request.body.seatId: no such property on the hold body (TS2551, "did you mean 'seatIds'?").
    expect(found).toContainEqual(
      expect.objectContaining({ line: 12, code: 2551, text: expect.stringContaining("'seatId'") }),
    );
    // The handler's answer is not the schema's 201 body: totalCents is a string (TS2322).
    expect(found).toContainEqual(
      expect.objectContaining({
        line: 9,
        code: 2322,
        text: expect.stringMatching(/totalCents.*\n.*'string' is not assignable to type 'number'/s),
      }),
    );
    expect(found).toHaveLength(2);
  }, 60_000);
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '..');

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

describe('generated protobuf code', () => {
  it('is what `npm run proto` makes from proto/ now (regenerate and commit when this fails)', () => {
    const fresh = mkdtempSync(path.join(os.tmpdir(), 'marquee-proto-'));
    try {
      execFileSync('bash', [path.join(root, 'scripts/proto.sh'), fresh], { cwd: root, stdio: 'pipe' });
      const committed = path.join(root, 'proto/gen');
      expect(listFiles(fresh).sort()).toEqual(listFiles(committed).sort());
      for (const file of listFiles(committed)) {
        const same = readFileSync(path.join(fresh, file)).equals(readFileSync(path.join(committed, file)));
        expect({ file, same }).toEqual({ file, same: true });
      }
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});

// llama.cpp built for this CPU: the speed anchor of bench/kernels.ts (issue 12). node-llama-cpp's
// prebuilt binary is a generic build about half as fast here (DESIGN.md §5), so the bench clones
// the llama.cpp source that package carries (llama/gitRelease.bundle) into .pensieve/llama.cpp and
// builds its tools with GGML_NATIVE=ON. The build is cached: it is skipped while the checkout is
// at the bundle's commit, the CMake cache holds our flags, every tool exists and the stamp says it
// was built on a CPU with the same model and instruction set flags (a native build can SIGILL on
// another). Run by the bench, never by CI; `npx tsx bench/llama-cpp/build.ts` runs it alone.
//
// PENSIEVE_LLAMA_CPP_DIR points it at another checkout (e.g. one being built by hand).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { installLlamaCpp } from '../kernels-llama.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = fileURLToPath(new URL('./node_modules/node-llama-cpp/llama/', import.meta.url));
const BUNDLE = `${PACKAGE}gitRelease.bundle`;

const NO_AMX = '-mno-amx-tile -mno-amx-int8 -mno-amx-bf16';
export const LLAMA_TARGETS = ['llama-quantize', 'llama-bench', 'llama-batched-bench', 'llama-server', 'llama-cli'] as const;
export type LlamaTarget = (typeof LLAMA_TARGETS)[number];
/**
 * Configure flags; the cache check reads each back from CMakeCache.txt. On a CPU with AMX,
 * -march=native compiles ggml's AMX matmul in, and this release's segfaults in
 * ggml_backend_amx_mul_mat on the first quantized matmul of more than a few rows (every
 * llama-bench run with -d 128 or -p 512 on the Sapphire Rapids machine of 2026-12-08;
 * ggml-org/llama.cpp#20824, machine-dependent, unfixed): the strongest build that runs keeps
 * every other native instruction and leaves AMX out (GCC's explicit -mno-* wins over -march).
 */
function cmakeFlags(): Readonly<Record<string, string>> {
  const amx = cpuFlags().split(' ').includes('amx_tile');
  return { GGML_NATIVE: 'ON', LLAMA_CURL: 'OFF', CMAKE_BUILD_TYPE: 'Release', ...(amx ? { CMAKE_C_FLAGS: NO_AMX, CMAKE_CXX_FLAGS: NO_AMX } : {}) };
}
const STAMP = 'pensieve-build.json';

/** The feature flags /proc/cpuinfo gives the first CPU (what -march=native reads). */
function cpuFlags(): string {
  return /^flags\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
}

export interface LlamaCppBuild {
  dir: string;
  /** The bundle's (and checkout's) commit, and the release tag node-llama-cpp names it by. */
  commit: string;
  tag: string;
  cmakeFlags: string[];
  cpu: string;
  builtAt: string;
  bin(target: LlamaTarget): string;
}

interface Stamp { commit: string; tag: string; cmakeFlags: string[]; cpu: string; cpuFlags: string; builtAt: string }

export function llamaCppDir(): string {
  return process.env.PENSIEVE_LLAMA_CPP_DIR ?? `${ROOT}.pensieve/llama.cpp`;
}

const git = (args: string[], cwd?: string) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function bundleTag(): string {
  return (JSON.parse(fs.readFileSync(`${PACKAGE}llama.cpp.info.json`, 'utf8')) as { tag: string }).tag;
}

function bundleCommit(): string {
  const heads = git(['bundle', 'list-heads', BUNDLE]).split('\n');
  const head = heads.find((l) => l.endsWith(' HEAD')) ?? heads[0];
  if (!head) throw new Error(`${BUNDLE} lists no heads`);
  return head.split(' ')[0]!;
}

/** The CPU the build is for: model name, and a hash of its feature flags (what -march=native reads). */
function thisCpu(): { cpu: string; cpuFlags: string } {
  return { cpu: os.cpus()[0]?.model ?? 'unknown', cpuFlags: createHash('sha256').update(cpuFlags()).digest('hex').slice(0, 16) };
}

function cmakeCacheValue(cache: string, key: string): string | undefined {
  return new RegExp(`^${key}:[A-Z]+=(.*)$`, 'm').exec(cache)?.[1];
}

/** Why the build in `dir` cannot be used as it is, or null when it can. */
function staleness(dir: string, commit: string): string | null {
  if (!fs.existsSync(`${dir}/.git`)) return 'no checkout';
  const head = git(['rev-parse', 'HEAD'], dir);
  if (head !== commit) return `checkout at ${head.slice(0, 10)}, bundle at ${commit.slice(0, 10)}`;
  const cachePath = `${dir}/build/CMakeCache.txt`;
  if (!fs.existsSync(cachePath)) return 'not configured';
  const cache = fs.readFileSync(cachePath, 'utf8');
  for (const [key, value] of Object.entries(cmakeFlags())) {
    const got = cmakeCacheValue(cache, key);
    if (got?.toUpperCase() !== value.toUpperCase()) return `configured with ${key}=${got ?? '(unset)'}`;
  }
  const missing = LLAMA_TARGETS.filter((t) => !fs.existsSync(`${dir}/build/bin/${t}`));
  if (missing.length) return `missing ${missing.join(', ')}`;
  const stamp = readStamp(dir);
  const cpu = thisCpu();
  // A tree built by hand has no stamp yet: the checks above vouch for it, and the stamp is written now.
  if (stamp && (stamp.cpuFlags !== cpu.cpuFlags || stamp.cpu !== cpu.cpu)) return `built for ${stamp.cpu} (flags ${stamp.cpuFlags}), this is ${cpu.cpu} (flags ${cpu.cpuFlags})`;
  return null;
}

function readStamp(dir: string): Stamp | null {
  try {
    return JSON.parse(fs.readFileSync(`${dir}/build/${STAMP}`, 'utf8')) as Stamp;
  } catch {
    return null;
  }
}

/** cmake processes working in `dir` or below (e.g. its build/): a build of this tree already running. */
function runningBuilds(dir: string): number[] {
  let pids: number[] = [];
  try {
    pids = execFileSync('pgrep', ['-f', 'cmake --build'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  const real = fs.realpathSync(dir);
  return pids.filter((pid) => {
    try {
      const cwd = fs.realpathSync(`/proc/${pid}/cwd`);
      return cwd === real || cwd.startsWith(`${real}/`);
    } catch {
      return false;
    }
  });
}

async function waitForBuilds(dir: string, log: (line: string) => void): Promise<void> {
  for (let pids = runningBuilds(dir), i = 0; pids.length; pids = runningBuilds(dir), i++) {
    if (i % 6 === 0) log(`llama.cpp: a build is already running in ${dir} (pid ${pids.join(', ')}); waiting for it`);
    await new Promise((r) => setTimeout(r, 10_000));
  }
}

/** Runs a command, its output to `logFile`; progress lines ("[ 42%] ...") go to `log` at most every 5%. */
function run(cmd: string, args: string[], cwd: string, logFile: string, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'a');
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let lastPct = -5;
    const onData = (chunk: Buffer) => {
      fs.writeSync(out, chunk);
      for (const m of chunk.toString().matchAll(/^\[\s*(\d+)%\]/gm)) {
        const pct = Number(m[1]);
        if (pct >= lastPct + 5) {
          lastPct = pct;
          log(`llama.cpp: build ${pct}% (${new Date().toISOString().slice(11, 19)})`);
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      fs.closeSync(out);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}; see ${logFile}`));
    });
  });
}

/** The native llama.cpp tools, built first if the cached build does not fit (15–25 minutes on two cores). */
export async function ensureLlamaCppBuild(log: (line: string) => void): Promise<LlamaCppBuild> {
  installLlamaCpp(log);
  const dir = llamaCppDir();
  const commit = bundleCommit();
  const tag = bundleTag();
  if (fs.existsSync(dir)) await waitForBuilds(dir, log);
  const why = staleness(dir, commit);
  if (why !== null) {
    log(`llama.cpp: building ${tag} (${commit.slice(0, 10)}) for this CPU in ${dir}: ${why}`);
    await build(dir, commit, log);
    const still = staleness(dir, commit);
    if (still !== null) throw new Error(`llama.cpp build in ${dir} unusable after building: ${still}`);
  }
  const stamp: Stamp = readStamp(dir) ?? {
    commit, tag, cmakeFlags: Object.entries(cmakeFlags()).map(([k, v]) => `-D${k}=${v}`), ...thisCpu(), builtAt: fs.statSync(`${dir}/build/bin/llama-bench`).mtime.toISOString(),
  };
  fs.writeFileSync(`${dir}/build/${STAMP}`, `${JSON.stringify(stamp, null, 2)}\n`);
  return { dir, commit, tag, cmakeFlags: stamp.cmakeFlags, cpu: stamp.cpu, builtAt: stamp.builtAt, bin: (t) => `${dir}/build/bin/${t}` };
}

async function build(dir: string, commit: string, log: (line: string) => void): Promise<void> {
  fs.mkdirSync(`${dir}/..`, { recursive: true });
  const logFile = `${dir}-build.log`;
  if (!fs.existsSync(`${dir}/.git`)) {
    log(`llama.cpp: git clone ${BUNDLE} ${dir}`);
    git(['clone', '--quiet', BUNDLE, dir]);
  }
  if (git(['rev-parse', 'HEAD'], dir) !== commit) {
    git(['fetch', '--quiet', BUNDLE], dir);
    git(['checkout', '--quiet', '--detach', commit], dir);
  }
  fs.rmSync(`${dir}/build/${STAMP}`, { force: true });
  const flags = Object.entries(cmakeFlags()).map(([k, v]) => `-D${k}=${v}`);
  log(`llama.cpp: cmake -B build ${flags.join(' ')} (log: ${logFile})`);
  await run('cmake', ['-B', 'build', ...flags], dir, logFile, log);
  log(`llama.cpp: cmake --build build -j${os.cpus().length} --target ${LLAMA_TARGETS.join(' ')}`);
  await run('cmake', ['--build', 'build', `-j${os.cpus().length}`, '--target', ...LLAMA_TARGETS], dir, logFile, log);
  const stamp: Stamp = { commit, tag: bundleTag(), cmakeFlags: flags, ...thisCpu(), builtAt: new Date().toISOString() };
  fs.writeFileSync(`${dir}/build/${STAMP}`, `${JSON.stringify(stamp, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const b = await ensureLlamaCppBuild((line) => process.stderr.write(`${line}\n`));
  console.log(`llama.cpp ${b.tag} (${b.commit.slice(0, 10)}) built for ${b.cpu} with ${b.cmakeFlags.join(' ')} at ${b.builtAt}: ${b.dir}/build/bin`);
}

// `pensieve cluster`: N `pensieve serve` replicas behind HAProxy on this machine, for trying
// conversation-affinity routing (src/cluster/local-cluster.ts does the work). Its own flags are
// picked out of the command line; every other flag goes to each replica's `pensieve serve`
// unchanged, so engine flags are spelled as for serve. SIGINT/SIGTERM drain and stop it all; a
// second signal stops it at once.

import { CliError } from './errors.js';
import { numberFlag } from './flags.js';
import { haproxyVersion } from '../cluster/haproxy.js';
import { LocalCluster } from '../cluster/local-cluster.js';

const HELP = `usage: pensieve cluster [options] [pensieve serve options]

Starts N replicas (pensieve serve) and HAProxy in front of them, in the foreground: every turn of
a conversation reaches the replica that holds its KV cache (deploy/haproxy/README.md).

  --replicas N        replicas to start (default 3)
  --port PORT         where HAProxy listens (default 8000)
  --host HOST         (default 127.0.0.1)
  --store URL         every replica's store: postgres://USER:PASS@HOST/DB lets any replica continue
                      any conversation (default: each replica's own SQLite file)
  --shared-kv URL     every replica's shared KV tier (redis://HOST:PORT)
  --data-dir DIR      replica rN keeps its data in DIR/rN (default: a temporary directory, removed
                      at exit)
  --haproxy PATH      the haproxy binary (default: haproxy; Debian: apt-get install -y haproxy)
  --balance MODE      affinity (default: consistent hashing by each conversation's routing key) or
                      roundrobin (every request to the next replica: a baseline for benchmarks)

Any other option is given to every replica: engine flags (--model, --kv-cache-memory, --threads,
...), --api-key, --served-model-name, ... (pensieve serve --help). Each replica listens on
127.0.0.1 on a port the system picks and answers with an X-Pensieve-Replica header naming it.
Their output is shown prefixed with their names (passing health checks left out).
`;

/** The cluster's own flags, with whether they take a value. */
const OWN_FLAGS: Record<string, boolean> = {
  replicas: true, port: true, host: true, store: true, 'shared-kv': true, 'data-dir': true, haproxy: true, balance: true, help: false,
};
/** A health check that passed (HAProxy's, one per replica per second): not shown. */
const HEALTH_OK = /"url":"\/health","status":200[,}]| GET \/health 200 /;

/** Serve flags the cluster sets for each replica itself. */
const RESERVED = ['replica-name'];

export interface ClusterArgs {
  own: Record<string, string | true>;
  /** What goes to every `pensieve serve`. */
  serve: string[];
}

/** Splits the command line into the cluster's flags and the rest (in order, values kept). */
export function splitClusterArgs(argv: readonly string[]): ClusterArgs {
  const own: Record<string, string | true> = {};
  const serve: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([^=]+)(?:=(.*))?$/s.exec(arg);
    const name = arg === '-h' ? 'help' : m?.[1];
    if (name === undefined || !(name in OWN_FLAGS)) {
      if (name !== undefined && RESERVED.includes(name)) throw new CliError(`--${name} is set by pensieve cluster for each replica`);
      serve.push(arg);
      continue;
    }
    if (!OWN_FLAGS[name]) {
      own[name] = true;
      continue;
    }
    const value = m?.[2] ?? argv[++i];
    if (value === undefined) throw new CliError(`--${name} needs a value`);
    own[name] = value;
  }
  return { own, serve };
}

function flag(own: ClusterArgs['own'], name: string): string | undefined {
  const v = own[name];
  return typeof v === 'string' ? v : undefined;
}

export async function runCluster(argv: string[]): Promise<void> {
  const { own, serve } = splitClusterArgs(argv);
  if (own.help) {
    process.stdout.write(HELP);
    return;
  }
  const replicas = numberFlag(flag(own, 'replicas'), 'replicas', { integer: true, min: 1, max: 64 }) ?? 3;
  const port = numberFlag(flag(own, 'port'), 'port', { integer: true, min: 1, max: 65535 }) ?? 8000;
  const host = flag(own, 'host') ?? '127.0.0.1';
  const haproxy = flag(own, 'haproxy') ?? 'haproxy';
  const balance = flag(own, 'balance') ?? 'affinity';
  if (balance !== 'affinity' && balance !== 'roundrobin') throw new CliError(`--balance must be affinity or roundrobin, got '${balance}'`);
  const version = haproxyVersion(haproxy);
  if (version === undefined) throw new CliError(`cannot run '${haproxy}': install HAProxy (Debian: apt-get install -y haproxy) or give --haproxy PATH`);

  const serveArgs = [...serve];
  const store = flag(own, 'store');
  if (store !== undefined) serveArgs.push('--store', store);
  const sharedKv = flag(own, 'shared-kv');
  if (sharedKv !== undefined) serveArgs.push('--shared-kv', sharedKv);
  // Replicas write to a pipe; keep their log readable when the cluster's own output is a terminal.
  if (!serve.some((a) => a === '--log-format' || a.startsWith('--log-format='))) serveArgs.push('--log-format', process.stderr.isTTY ? 'text' : 'json');

  const say = (message: string) => process.stderr.write(`pensieve cluster: ${message}\n`);
  const dataDir = flag(own, 'data-dir');
  const cluster = new LocalCluster({
    replicas,
    bind: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    ...(dataDir === undefined ? {} : { dataDir }),
    serveArgs,
    haproxy,
    balance,
    onLine: (name, line) => {
      if (!HEALTH_OK.test(line)) process.stderr.write(`${name.padEnd(7)} | ${line}\n`);
    },
    onEvent: say,
  });
  say(`${version}; starting ${replicas} replica(s)${store === undefined ? ', each with its own SQLite store' : ''}; run dir ${cluster.runDir}`);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    say(signals === 1 ? `${signal}: draining replicas and HAProxy (${signal} again to stop now)` : `${signal}: stopping now`);
    void cluster.stop(signals > 1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // Whatever ends this process, no child outlives it.
  process.on('exit', () => cluster.kill());

  try {
    await cluster.start();
  } catch (err) {
    if (signals > 0) return;
    throw new CliError(`cluster failed to start: ${(err as Error).message}`);
  }
  say(`serving at http://${host.includes(':') ? `[${host}]` : host}:${port}/v1 (${replicas} replicas behind HAProxy)`);
  const end = await cluster.wait();
  if (!end.ok) throw new CliError(`cluster stopped: ${end.reason}`);
  say('stopped');
}

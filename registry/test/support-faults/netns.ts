// A lossy link for one process: it runs in a network namespace of its own (unshare -n), joined to this one by a veth
// pair, and nftables inside drops a share of the packets that reach it (tc netem is not available on every kernel
// CI runs; nftables' numgen is). Needs root, as CI has; without it the test fails saying so, it is never skipped.
import { execFileSync } from 'node:child_process';

export interface LossyLink {
  /** The address of this side of the link (a server here must listen on it to be reached from the namespace). */
  readonly hostAddress: string;
  /** The namespace side's address. */
  readonly innerAddress: string;
  /**
   * The command to start the process with: it enters a new namespace and waits for {@link LossyLink.attach} before
   * exec-ing its arguments, so the process finds its network up when it starts.
   */
  readonly wrapper: readonly string[];
  /** Creates the veth pair into the namespace of `pid` (the wrapper's process), addresses it and installs the drop rule. */
  attach(pid: number): void;
  /** Drops this share of the packets from now on (100: the link is cut; 0: the link is whole). */
  setLoss(percent: number): void;
  /** Packets dropped so far, over every {@link LossyLink.setLoss}. */
  dropped(): number;
  /** Removes the host side of the pair (the namespace side goes with it, and with the process). */
  remove(): void;
}

/** Fails, with the reason, when this machine cannot give a process a lossy network namespace. */
export function requireNetnsPrivileges(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the lossy-link test needs root (unshare -n, ip link, nft in a network namespace); run it as root as CI does',
    );
  }
  for (const [command, args, pkg] of [
    ['ip', ['-V'], 'iproute2'],
    ['nft', ['--version'], 'nftables'],
    ['unshare', ['--version'], 'util-linux'],
    ['nsenter', ['--version'], 'util-linux'],
  ] as const) {
    try {
      execFileSync(command, args, { stdio: 'pipe' });
    } catch {
      throw new Error(`the lossy-link test needs ${command} (Debian package ${pkg}; trellis setup installs nft)`);
    }
  }
}

/**
 * A link dropping `percent` of the packets entering the namespace (multiples of 10, for nftables' numgen), counted.
 * @example const link = lossyLink(30); const child = spawn(link.wrapper[0], [...link.wrapper.slice(1), 'node', 'server.js']); link.attach(child.pid);
 */
export function lossyLink(percent: number): LossyLink {
  // Names and a /30 of their own per test process, so parallel runs on one machine do not collide.
  const tag = process.pid % 100_000;
  const subnet = `10.231.${process.pid % 250}`;
  const hostIf = `tfh${tag}`;
  const innerIf = 'tfn0';
  const hostAddress = `${subnet}.1`;
  const innerAddress = `${subnet}.2`;
  let pid: number | undefined;
  const removeHostSide = (): void => {
    try {
      execFileSync('ip', ['link', 'del', hostIf], { stdio: 'pipe' });
    } catch {
      // Not there: gone with the namespace already.
    }
  };
  const inside = (command: string, args: readonly string[], input?: string): string =>
    execFileSync('nsenter', ['-t', String(pid), '-n', command, ...args], {
      stdio: 'pipe',
      encoding: 'utf8',
      ...(input === undefined ? {} : { input }),
    });
  let droppedBefore = 0;
  const counted = (): number => {
    const listed = inside('nft', ['list', 'chain', 'inet', 'faults', 'in']);
    return Number(/counter packets (\d+)/.exec(listed)?.[1] ?? '0');
  };
  // The counter goes with the rule it belongs to; what it counted is kept.
  const setLoss = (share: number): void => {
    if (!Number.isInteger(share / 10) || share < 0 || share > 100)
      throw new Error(`loss ${share} % is not a multiple of 10`);
    droppedBefore += counted();
    inside('nft', ['flush', 'chain', 'inet', 'faults', 'in']);
    if (share > 0) {
      const sample = share === 100 ? [] : ['numgen', 'random', 'mod', '10', '<', String(share / 10)];
      inside('nft', ['add', 'rule', 'inet', 'faults', 'in', 'iifname', innerIf, ...sample, 'counter', 'drop']);
    }
  };
  return {
    hostAddress,
    innerAddress,
    wrapper: ['unshare', '-n', '--', 'sh', '-c', 'read ready && exec "$@"', 'lossy-link'],
    attach(target) {
      pid = target;
      const run = (command: string, args: readonly string[]): void => {
        execFileSync(command, args, { stdio: 'pipe' });
      };
      removeHostSide(); // a run killed before its clean-up may have left it
      run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', innerIf, 'netns', `/proc/${target}/ns/net`]);
      run('ip', ['addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
      run('ip', ['link', 'set', hostIf, 'up']);
      inside('ip', ['link', 'set', 'lo', 'up']);
      inside('ip', ['addr', 'add', `${innerAddress}/30`, 'dev', innerIf]);
      inside('ip', ['link', 'set', innerIf, 'up']);
      inside(
        'nft',
        ['-f', '-'],
        'table inet faults {\n chain in {\n type filter hook input priority 0; policy accept;\n }\n}\n',
      );
      setLoss(percent);
    },
    setLoss,
    dropped: () => droppedBefore + counted(),
    remove: removeHostSide,
  };
}

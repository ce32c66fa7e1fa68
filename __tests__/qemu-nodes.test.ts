// QEMU planning from the builder's nodes: which node each platform goes to
// (the way buildx v0.36.1 resolves it), and that only platforms a node on this
// runner cannot run natively get QEMU here. Node facts come from real
// `buildx inspect` output captured on the test bed where there is one.
import { describe, expect, it, test } from '@jest/globals';
import { parseInspect } from '../src/buildx/builder.js';
import { nodeFacts } from '../src/pipeline/qemu.js';
import { parsePlatform } from '../src/platform.js';
import { compatible, nodeFor, parseBinfmtEntry, planQemu, type NodeFacts } from '../src/qemu/plan.js';
import { nothingToRegister } from '../src/qemu/setup.js';
import { fixture } from './support/fake-exec.js';

const P = (s: string) => parsePlatform(s);
const AARCH64 = parseBinfmtEntry('qemu-aarch64', fixture('qemu/binfmt-qemu-aarch64.txt'));
const ARM = parseBinfmtEntry('qemu-arm', fixture('qemu/binfmt-qemu-arm.txt'));

const node = (name: string, platforms: string[], over: Partial<NodeFacts> = {}): NodeFacts => ({
  name,
  driver: 'remote',
  platforms: platforms.map((p) => p.replace(/\*$/, '')),
  userPlatforms: platforms.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1)),
  onRunner: false,
  ...over,
});

describe('compatible (containerd platforms.Only)', () => {
  test.each([
    ['linux/amd64', ['linux/amd64', 'linux/386']],
    ['linux/amd64/v3', ['linux/amd64/v3', 'linux/amd64/v2', 'linux/amd64', 'linux/386']],
    ['linux/arm64', ['linux/arm64', 'linux/arm/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']],
    ['linux/arm/v7', ['linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']],
    ['linux/riscv64', ['linux/riscv64']],
  ])('%s runs %j', (listed, want) => {
    expect(compatible(listed)).toEqual(want);
  });
});

describe('nodeFor', () => {
  const amd = node('amd', ['linux/amd64*', 'linux/amd64', 'linux/386']);
  const arm = node('arm', ['linux/arm64*', 'linux/arm/v7*', 'linux/arm64', 'linux/arm/v7']);
  test.each<[string, NodeFacts[], string, string, boolean]>([
    ['a --platform entry wins', [amd, arm], 'linux/arm64', 'arm', true],
    ['arm/v7 to the node that set it', [amd, arm], 'linux/arm/v7', 'arm', true],
    ['amd64 to the first node', [amd, arm], 'linux/amd64', 'amd', true],
    ['386 by the amd node worker list', [amd, arm], 'linux/386', 'amd', true],
    ['arm/v6 is compatible with the arm node', [amd, arm], 'linux/arm/v6', 'arm', true],
    [
      'a --platform entry beats an earlier worker entry',
      [node('a', ['linux/amd64', 'linux/arm64']), node('b', ['linux/arm64*'])],
      'linux/arm64',
      'b',
      true,
    ],
    ['exact beats compatible', [node('a', ['linux/arm64']), node('b', ['linux/arm/v7'])], 'linux/arm/v7', 'b', true],
    ['nobody lists it: the first node', [amd, arm], 'linux/riscv64', 'amd', false],
    ['aliases are normalised', [amd, node('arm', ['linux/arm64/v8*'])], 'linux/arm64', 'arm', true],
  ])('%s', (_name, nodes, platform, want, listed) => {
    expect(nodeFor(P(platform), nodes)).toEqual({ node: nodes.find((n) => n.name === want), listed });
  });

  it('is undefined without nodes', () => {
    expect(nodeFor(P('linux/amd64'), [])).toBeUndefined();
  });
});

describe('planQemu with node facts', () => {
  const runnerNode = node('multiarch0', ['linux/amd64', 'linux/amd64/v2', 'linux/386', 'linux/arm64', 'linux/arm/v7'], {
    driver: 'docker-container',
    onRunner: true,
  });
  const amd = node('amd', ['linux/amd64*', 'linux/amd64', 'linux/386']);
  const arm = node('arm', ['linux/arm64*', 'linux/arm/v7*']);

  it('a docker-container node on the runner: amd64 native, the others QEMU on the runner (as without nodes)', () => {
    const plan = planQemu('auto', ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/riscv64'].map(P), 'x64', [AARCH64, ARM], [runnerNode]);
    expect(plan.items.map((i) => [i.platform.id, i.action, i.node, i.onRunner])).toEqual([
      ['linux/amd64', 'native', 'multiarch0', true],
      ['linux/arm64', 'handled', 'multiarch0', true],
      ['linux/arm/v7', 'handled', 'multiarch0', true],
      // Not listed (no handler yet): still goes to this node, so QEMU is registered here.
      ['linux/riscv64', 'register', 'multiarch0', true],
    ]);
  });

  it('remote nodes: nothing is registered even with qemu: true and no handler on the runner, and the log says whose business it is', () => {
    const plan = planQemu('true', ['linux/amd64', 'linux/arm64', 'linux/arm/v7'].map(P), 'x64', [], [amd, arm]);
    expect(plan.items.map((i) => [i.platform.id, i.action, i.node])).toEqual([
      ['linux/amd64', 'remote', 'amd'],
      ['linux/arm64', 'remote', 'arm'],
      ['linux/arm/v7', 'remote', 'arm'],
    ]);
    expect(plan.items[1]?.reason).toBe(
      "linux/arm64: built on node arm (driver remote, not on this runner); emulation, if any, is that node's business, so nothing is registered here",
    );
    expect(nothingToRegister(plan)).toBe('nothing registered with QEMU: every platform is built on a node that is not on this runner');
  });

  it('a docker-container node on another docker host (ssh) is not the runner', () => {
    const far = node('far', ['linux/arm64*'], { driver: 'docker-container', onRunner: false });
    const plan = planQemu('auto', ['linux/amd64', 'linux/arm64'].map(P), 'x64', [], [runnerNode, far]);
    expect(plan.items.map((i) => [i.platform.id, i.action, i.node])).toEqual([
      ['linux/amd64', 'native', 'multiarch0'],
      ['linux/arm64', 'remote', 'far'],
    ]);
    expect(nothingToRegister(plan)).toBe('nothing registered with QEMU; 1 of 2 platforms are built on nodes that are not on this runner');
  });

  it('the real remote builder of the test bed (one node on a unix socket) runs on this kernel: QEMU is planned here', () => {
    const facts = nodeFacts(parseInspect(fixture('buildx/inspect-remote.txt')));
    expect(facts).toEqual([expect.objectContaining({ name: 'fixture-builder-142140', driver: 'remote', onRunner: true, userPlatforms: [] })]);
    const plan = planQemu('auto', ['linux/amd64', 'linux/arm64'].map(P), 'x64', [], facts);
    expect(plan.items.map((i) => i.action)).toEqual(['native', 'register']);
  });

  it('the real multi-node builder of the test bed: amd64 to node 0 (amd64*), arm64 and arm/v7 to node 1 (arm64*, arm/v7*)', () => {
    const facts = nodeFacts(parseInspect(fixture('buildx/inspect-multinode-remote.txt')));
    expect(facts.map((f) => [f.name, f.userPlatforms])).toEqual([
      ['fixture-mn0', ['linux/amd64']],
      ['fixture-mn1', ['linux/arm64', 'linux/arm/v7']],
    ]);
    // Node 1's worker also lists the host's amd64: the --platform entry of node 0 still wins.
    expect(facts[1]?.platforms).toContain('linux/amd64');
    const plan = planQemu('auto', ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/386'].map(P), 'x64', [AARCH64, ARM], facts);
    expect(plan.items.map((i) => [i.platform.id, i.node, i.action])).toEqual([
      ['linux/amd64', 'fixture-mn0', 'native'],
      ['linux/arm64', 'fixture-mn1', 'handled'],
      ['linux/arm/v7', 'fixture-mn1', 'handled'],
      // Nobody set 386: both list amd64, which runs it; the first node wins the tie.
      ['linux/386', 'fixture-mn0', 'native'],
    ]);
  });

  it("the test bed helper's own capture of the same builder plans the same", () => {
    const facts = nodeFacts(parseInspect(fixture('buildx-inspect-multinode.txt')));
    const plan = planQemu('auto', ['linux/amd64', 'linux/arm64', 'linux/arm/v7'].map(P), 'x64', [AARCH64, ARM], facts);
    expect(plan.items.map((i) => [i.node, i.action])).toEqual([
      ['m0', 'native'],
      ['m1', 'handled'],
      ['m1', 'handled'],
    ]);
  });

  it('the same nodes over tcp to other hosts: nothing to do here', () => {
    const text = fixture('buildx/inspect-multinode-remote.txt').replace(/unix:\/\/\S+-(amd|arm)\.sock/g, 'tcp://$1-builder:1234');
    const facts = nodeFacts(parseInspect(text));
    expect(facts.map((f) => f.onRunner)).toEqual([false, false]);
    const plan = planQemu('auto', ['linux/amd64', 'linux/arm64'].map(P), 'x64', [], facts);
    expect(plan.items.map((i) => [i.node, i.action])).toEqual([
      ['fixture-mn0', 'remote'],
      ['fixture-mn1', 'remote'],
    ]);
  });

  it.each([
    ['buildx/inspect-docker-container.txt', 'fixture-dc0'],
    ['buildx-inspect-docker-container.txt', 't0'],
  ])('the real docker-container builder of the test bed (%s): on this runner, arm64 emulated here', (file, name) => {
    const facts = nodeFacts(parseInspect(fixture(file)));
    expect(facts.map((f) => [f.name, f.driver, f.onRunner])).toEqual([[name, 'docker-container', true]]);
    const plan = planQemu('auto', ['linux/amd64', 'linux/arm64'].map(P), 'x64', [AARCH64], facts);
    expect(plan.items.map((i) => i.action)).toEqual(['native', 'handled']);
  });

  it('the real docker-driver default builder (endpoint: a context name) is on the runner', () => {
    const facts = nodeFacts(parseInspect(fixture('buildx/inspect-docker-default.txt')));
    expect(facts.map((f) => [f.name, f.onRunner])).toEqual([['default', true]]);
  });
});

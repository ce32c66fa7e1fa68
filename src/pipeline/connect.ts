// The run's connections: every process gets the run's DOCKER_CONFIG (when
// registry-auth is given), and one registry client holds the credentials.
import { directBuildx } from '../buildx/command.js';
import { dockerConfigDir, readDockerConfigAuths, withGithubToken, writeDockerConfig } from '../credentials.js';
import type { Exec } from '../exec.js';
import type { Inputs } from '../model.js';
import { RegistryClient } from '../registry/client.js';
import { registriesOf } from './promote.js';
import type { Runtime } from './runtime.js';

export interface Connections {
  exec: Exec;
  registry: RegistryClient;
}

export function connect(
  inputs: Pick<Inputs, 'registryAuth' | 'registryTimeout' | 'githubToken' | 'push' | 'image' | 'tags' | 'promoteTo'>,
  rt: Runtime,
): Connections {
  const userDir = dockerConfigDir(rt.env);
  const userAuths = readDockerConfigAuths(userDir);
  // ghcr.io: github-token (GITHUB_TOKEN by default) when nothing else logs in there.
  const auths = withGithubToken(
    inputs.registryAuth,
    userAuths,
    inputs.push ? registriesOf(inputs) : [],
    inputs.githubToken,
    rt.env.GITHUB_ACTOR,
    rt.mask,
  );
  const runConfig = auths.length ? writeDockerConfig(rt.tempDir, auths, userDir, rt.env.BUILDX_CONFIG) : undefined;
  for (const w of runConfig?.warnings ?? []) rt.log.warning(w);
  const env = runConfig?.env ?? {};
  const signal = rt.signal;
  const base = rt.buildxPlugin ? directBuildx(rt.exec, rt.buildxPlugin) : rt.exec;
  const exec: Exec = (cmd, args, opts = {}) => base(cmd, args, { ...opts, env: { ...env, ...opts.env }, ...(signal ? { signal } : {}) });
  const registry = new RegistryClient({
    auths: [...auths, ...userAuths],
    mask: rt.mask,
    log: (m) => rt.log.info(m),
    timeoutSeconds: inputs.registryTimeout,
    ...(signal ? { signal } : {}),
    ...(rt.fetchImpl ? { fetchImpl: rt.fetchImpl } : {}),
  });
  return { exec, registry };
}

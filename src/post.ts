// The post step: removes what the run created (a builder it created, its temp
// directory with any DOCKER_CONFIG). It only warns; it never fails the job.
import * as core from './util/core.js';
import * as fs from 'node:fs';
import { execCommand, type Exec } from './exec.js';
import { removeBuilder } from './buildx/builder.js';
import { directBuildx } from './buildx/command.js';
import { buildxPluginFinder } from './buildx/plugin.js';
import { loadState, type PostState } from './state.js';
import { errorMessage } from './util/errors.js';

export async function cleanup(exec: Exec, state: PostState, warn: (m: string) => void): Promise<void> {
  if (state.builder) {
    try {
      if (!(await removeBuilder(exec, state.builder))) warn(`could not remove builder ${state.builder}`);
    } catch (err) {
      warn(`could not remove builder ${state.builder}: ${errorMessage(err)}`);
    }
  }
  if (state.tempDir) {
    try {
      fs.rmSync(state.tempDir, { recursive: true, force: true });
    } catch (err) {
      warn(`could not remove ${state.tempDir}: ${errorMessage(err)}`);
    }
  }
}

export async function post(): Promise<void> {
  const warn = (m: string): void => core.warning(m);
  let state: PostState;
  try {
    state = loadState();
  } catch (err) {
    warn(`nothing cleaned up: the saved state is unreadable (${errorMessage(err)})`);
    return;
  }
  // buildx by its own path, as in main (one process instead of three).
  await cleanup(directBuildx(execCommand, buildxPluginFinder(process.env)), state, warn);
}

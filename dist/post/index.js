import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 734:
/***/ ((module, __unused_webpack___webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(module, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony import */ var _post_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(138);

await (0,_post_js__WEBPACK_IMPORTED_MODULE_0__/* .post */ .b)();

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } }, 1);

/***/ }),

/***/ 138:
/***/ ((__unused_webpack_module, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  b: () => (/* binding */ post)
});

// UNUSED EXPORTS: cleanup

;// CONCATENATED MODULE: external "node:crypto"
const external_node_crypto_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");
;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
;// CONCATENATED MODULE: external "node:os"
const external_node_os_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:os");
;// CONCATENATED MODULE: ./src/util/core.ts
// The runner commands the action uses (inputs, outputs, state, log, masks,
// groups, failure, the job summary), written out in the runner's documented
// formats instead of loading @actions/core: that package loads
// @actions/http-client and undici (for OIDC tokens we never ask for) on every
// run, about a third of the bundle's start-up time.
// Formats: https://docs.github.com/actions/reference/workflow-commands-for-github-actions



/** A command's data: `%`, CR and LF escaped, as the runner unescapes them. */
function escapeData(s) {
    return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function issue(command, message) {
    process.stdout.write(`::${command}::${escapeData(message)}${external_node_os_namespaceObject.EOL}`);
}
/** `name<<delimiter` blocks appended to a file command (GITHUB_OUTPUT, GITHUB_STATE). */
function fileCommand(variable, key, value) {
    const file = process.env[variable];
    if (!file)
        return false;
    if (!fs.existsSync(file))
        throw new Error(`Missing file at path: ${file}`);
    const delimiter = `ghadelimiter_${randomUUID()}`;
    if (key.includes(delimiter) || value.includes(delimiter))
        throw new Error(`Unexpected input: it contains the delimiter "${delimiter}"`);
    fs.appendFileSync(file, `${key}<<${delimiter}${os.EOL}${value}${os.EOL}${delimiter}${os.EOL}`, { encoding: 'utf8' });
    return true;
}
/** `INPUT_<NAME>` (spaces as underscores, upper case), trimmed; empty when unset. */
function getInput(name) {
    return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}
function setOutput(name, value) {
    if (!fileCommand('GITHUB_OUTPUT', name, value)) {
        process.stdout.write(os.EOL);
        process.stdout.write(`::set-output name=${name}::${escapeData(value)}${os.EOL}`);
    }
}
function saveState(name, value) {
    if (!fileCommand('GITHUB_STATE', name, value))
        issue(`save-state name=${name}`, value);
}
function getState(name) {
    return process.env[`STATE_${name}`] ?? '';
}
function setSecret(secret) {
    issue('add-mask', secret);
}
function info(message) {
    process.stdout.write(message + os.EOL);
}
function debug(message) {
    issue('debug', message);
}
function notice(message) {
    issue('notice', message);
}
function warning(message) {
    issue('warning', message);
}
/** Logs the error and makes the step fail when the process exits. */
function setFailed(message) {
    process.exitCode = 1;
    issue('error', message);
}
async function group(name, fn) {
    issue('group', name);
    try {
        return await fn();
    }
    finally {
        issue('endgroup', '');
    }
}
/** Appends markdown (and a newline) to the job summary file, when the runner gives one. */
function appendSummary(markdown) {
    const file = process.env.GITHUB_STEP_SUMMARY;
    if (file)
        fs.appendFileSync(file, markdown + os.EOL, { encoding: 'utf8' });
}

;// CONCATENATED MODULE: external "node:child_process"
const external_node_child_process_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:child_process");
;// CONCATENATED MODULE: ./src/util/cancel.ts
// Cancellation: main turns SIGTERM/SIGINT into an aborted AbortSignal; every
// long wait (registry requests, back-off sleeps, child processes) watches it,
// and no phase starts (no tag is written) once it is aborted.
/** Thrown when work stops because the run was cancelled. */
class CancelledError extends Error {
    constructor(what) {
        super(`cancelled: ${what}`);
        this.name = 'CancelledError';
    }
}
function throwIfCancelled(signal, what) {
    if (signal?.aborted)
        throw new CancelledError(what);
}
/** Waits `ms`, or rejects with a CancelledError as soon as `signal` aborts. */
function sleepUnlessCancelled(ms, signal, what) {
    return new Promise((resolve, reject) => {
        if (signal?.aborted)
            return reject(new CancelledError(what));
        const onAbort = () => {
            clearTimeout(timer);
            reject(new CancelledError(what));
        };
        const timer = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        signal?.addEventListener('abort', onAbort, { once: true });
    });
}

;// CONCATENATED MODULE: ./src/exec.ts
// The one exec seam: every docker, buildx, trivy (and any other) process the
// action starts goes through `Exec`. Failure is decided by the exit code alone;
// stderr only feeds the error message.


/** How many trailing stderr lines an error message carries. */
const TAIL_LINES = 20;
class CommandError extends Error {
    command;
    args;
    exitCode;
    stderr;
    constructor(command, args, exitCode, stderr) {
        super(CommandError.describe(command, args, exitCode, stderr));
        this.command = command;
        this.args = args;
        this.exitCode = exitCode;
        this.stderr = stderr;
        this.name = 'CommandError';
    }
    static describe(command, args, exitCode, stderr) {
        const tail = lastLines(stderr, TAIL_LINES);
        const head = `${[command, ...args.slice(0, 3)].join(' ')}${args.length > 3 ? ' ...' : ''} exited with code ${exitCode}`;
        return tail ? `${head}:\n${tail}` : head;
    }
}
function lastLines(text, count) {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    return lines.slice(-count).join('\n');
}
/** How long a cancelled process gets between SIGTERM and SIGKILL. */
const KILL_AFTER_MS = 5000;
/**
 * The real seam: spawns the process (no shell), echoes `[command]...` and its
 * output as @actions/exec does unless silent or fed to onLine, and on
 * `signal` sends it SIGTERM (SIGKILL after 5 s) and fails as cancelled.
 */
const execCommand = (command, args, options = {}) => new Promise((resolve, reject) => {
    const { signal, onLine } = options;
    if (signal?.aborted)
        return reject(new CancelledError(`${command} was not started`));
    const quiet = options.silent === true || onLine !== undefined;
    if (!options.silent)
        process.stdout.write(`[command]${[command, ...args].join(' ')}\n`);
    const child = (0,external_node_child_process_namespaceObject.spawn)(command, [...args], {
        cwd: options.cwd,
        env: childEnv(process.env, options.env),
        stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const lines = { out: '', err: '' };
    const feed = (which, chunk, flush = false) => {
        if (!onLine)
            return;
        lines[which] += chunk;
        const parts = lines[which].split(/\r?\n/);
        lines[which] = flush ? '' : (parts.pop() ?? '');
        for (const l of parts)
            if (!flush || l !== '')
                onLine(l);
    };
    child.stdout.setEncoding('utf8').on('data', (d) => {
        stdout += d;
        if (!quiet)
            process.stdout.write(d);
        feed('out', d);
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
        stderr += d;
        if (!quiet)
            process.stderr.write(d);
        feed('err', d);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    let killTimer;
    const onAbort = () => {
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
    });
    child.on('close', (code, sig) => {
        signal?.removeEventListener('abort', onAbort);
        if (killTimer)
            clearTimeout(killTimer);
        feed('out', '', true);
        feed('err', '', true);
        if (signal?.aborted)
            return reject(new CancelledError(`${command} ${args.slice(0, 2).join(' ')} was stopped`));
        const exitCode = code ?? (sig ? 128 : 1);
        if (exitCode !== 0 && !options.allowFailure)
            return reject(new CommandError(command, args, exitCode, stderr || stdout));
        resolve({ exitCode, stdout, stderr });
    });
});
/**
 * What a tool's environment is: this process's without the runner's `INPUT_*`
 * variables (the action's inputs, `registry-auth` and `secrets` among them: no
 * tool reads them, so none gets a copy to print or pass on), `extra` over it.
 */
function childEnv(base, extra = {}) {
    const env = {};
    for (const [k, v] of Object.entries(base))
        if (v !== undefined && !/^INPUT_/i.test(k))
            env[k] = v;
    return { ...env, ...extra };
}

;// CONCATENATED MODULE: ./src/buildx/drivers.ts
// What each buildx driver supports, written once. Input parsing, builder
// creation and QEMU planning all read this table. The reasons for each entry
// are in docs/decisions.md ("Drivers").
const DRIVER_NAMES = (/* unused pure expression or super */ null && (['docker-container', 'remote', 'kubernetes', 'docker']));
const DOCKER_SCHEMES = ['unix', 'tcp', 'ssh', 'npipe'];
const DRIVERS = {
    'docker-container': {
        name: 'docker-container',
        create: true,
        driverOpts: true,
        buildkitdConfig: true,
        endpoint: 'optional',
        endpointSchemes: DOCKER_SCHEMES,
        contextName: true,
        nodes: true,
        pushByDigest: true,
        ociLayout: true,
        runnerQemu: true,
    },
    remote: {
        name: 'remote',
        create: true,
        driverOpts: true,
        // buildx driver/remote/factory.go New()
        driverOptKeys: ['servername', 'cacert', 'cert', 'key', 'default-load'],
        buildkitdConfig: false,
        endpoint: 'required',
        // buildx driver/remote/util/endpoint.go
        endpointSchemes: ['docker-container', 'kube-pod', 'npipe', 'ssh', 'tcp', 'unix'],
        contextName: false,
        nodes: true,
        pushByDigest: true,
        ociLayout: true,
        runnerQemu: true,
    },
    kubernetes: {
        name: 'kubernetes',
        refused: 'is not supported: nothing proves it here (no cluster on the test bed); run buildkitd in your cluster and use driver: remote with its endpoint (tcp://... or kube-pod://...)',
        create: true,
        driverOpts: true,
        buildkitdConfig: true,
        endpoint: 'none',
        endpointSchemes: [],
        contextName: false,
        nodes: true,
        pushByDigest: true,
        ociLayout: true,
        runnerQemu: false,
    },
    docker: {
        name: 'docker',
        refused: 'cannot push each platform by digest or write OCI layouts (the docker driver needs the containerd image store for both); use docker-container (the default) or remote',
        create: false,
        driverOpts: false,
        buildkitdConfig: false,
        endpoint: 'none',
        endpointSchemes: [],
        contextName: true,
        nodes: false,
        pushByDigest: false,
        ociLayout: false,
        runnerQemu: true,
    },
};
function isDriverName(name) {
    return DRIVER_NAMES.includes(name);
}
/** The table's entry for a driver name as buildx prints it; undefined for one it does not know. */
function drivers_driverSupport(name) {
    return isDriverName(name) ? DRIVERS[name] : undefined;
}
/** Whether `endpoint` is an address this driver takes: a URL of one of its schemes, or a context name. */
function endpointAccepted(d, endpoint) {
    const m = /^([a-z][a-z0-9+.-]*):\/\/\S+$/.exec(endpoint);
    if (m)
        return d.endpointSchemes.includes(m[1]);
    return d.contextName && /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(endpoint);
}
/** A phrase listing what an endpoint of this driver may be, for errors. */
function endpointForms(d) {
    const urls = d.endpointSchemes.map((s) => `${s}://`).join(', ');
    return d.contextName ? `a ${urls} URL or a docker context name` : `a ${urls} URL`;
}
/**
 * Whether a node of this driver at `endpoint` (as `buildx inspect` prints it)
 * runs on this runner's kernel, so that the runner's binfmt_misc is what
 * emulates for it: a unix or npipe socket, a loopback tcp address, a
 * `docker-container://` buildkitd (a container of this runner's docker) or,
 * for the docker drivers, a context name. ssh, other tcp hosts and kube-pod
 * are elsewhere.
 */
function onRunner(d, endpoint) {
    if (!d.runnerQemu)
        return false;
    if (endpoint === '' || /^(?:unix|npipe|docker-container):\/\//.test(endpoint))
        return true;
    const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)/.exec(endpoint);
    if (tcp)
        return ['127.0.0.1', 'localhost', '[::1]'].includes(tcp[1]);
    return d.contextName && !/^[a-z][a-z0-9+.-]*:\/\//.test(endpoint);
}

;// CONCATENATED MODULE: ./src/buildx/builder.ts

/**
 * argv (after `docker`) for each `buildx create` that makes the builder: one
 * for a one-node builder; with `nodes`, one per node, the first creating the
 * builder and the others adding to it with `--append`, each with its
 * `--platform` list and the same driver, driver-opts and buildkitd config.
 * `configFile` is a buildkitd.toml path: the `buildkitd-config` input, or a
 * temp file the caller wrote from `buildkitd-config-inline`. The builder is
 * not made the default (`--use` is never passed); every later call names it
 * with `--builder`.
 */
function createBuilderArgs(name, inputs, configFile) {
    const driver = inputs.driver || 'docker-container';
    const support = driverSupport(driver);
    if (!support)
        throw new Error(`driver ${JSON.stringify(driver)} is not one buildx has`);
    if (support.refused)
        throw new Error(`driver ${JSON.stringify(driver)} ${support.refused}`);
    if (support.endpoint === 'required' && !inputs.endpoint && inputs.nodes.length === 0) {
        throw new Error(`driver "${driver}" needs an \`endpoint\` (e.g. tcp://buildkitd:1234 or unix:///run/buildkit/buildkitd.sock)`);
    }
    const common = ['--driver', driver];
    for (const opt of inputs.driverOpts)
        common.push('--driver-opt', opt);
    const config = configFile ?? inputs.buildkitdConfig;
    if (config)
        common.push('--buildkitd-config', config);
    if (inputs.nodes.length === 0) {
        return [['buildx', 'create', '--name', name, ...common, ...(inputs.endpoint ? [inputs.endpoint] : [])]];
    }
    return inputs.nodes.map((n, i) => [
        'buildx',
        'create',
        '--name',
        name,
        ...(i > 0 ? ['--append'] : []),
        ...common,
        '--platform',
        n.platforms.map((p) => p.id).join(','),
        n.endpoint,
    ]);
}
function inspectArgs(name, bootstrap = true) {
    return bootstrap ? ['buildx', 'inspect', '--bootstrap', name] : ['buildx', 'inspect', name];
}
function removeArgs(name) {
    return ['buildx', 'rm', name];
}
/** `Key:   value` at column 0 (tabwriter output); indented lines belong to a section. */
const KEY_LINE = /^([A-Za-z][^:\t]*?):(?:[ \t]+(.*))?$/;
/**
 * Parses `docker buildx inspect` text (buildx commands/inspect.go): the
 * builder's Name/Driver/Last Activity/Error, then after `Nodes:` one block per
 * node starting with `Name:`. Indented lines (labels, GC policy, files) are
 * skipped.
 */
function parseInspect(text) {
    const info = { name: '', driver: '', nodes: [] };
    let node;
    let inNodes = false;
    for (const line of text.split(/\r?\n/)) {
        if (line.trim() === '' || /^\s/.test(line))
            continue;
        if (line.trim() === 'Nodes:') {
            inNodes = true;
            continue;
        }
        const m = KEY_LINE.exec(line);
        if (!m)
            continue;
        const key = m[1];
        const value = (m[2] ?? '').trim();
        if (!inNodes) {
            if (key === 'Name')
                info.name = value;
            else if (key === 'Driver')
                info.driver = value;
            else if (key === 'Last Activity')
                info.lastActivity = value;
            else if (key === 'Error')
                info.error = value;
            continue;
        }
        if (key === 'Name') {
            node = { name: value, endpoint: '', status: '', platforms: [], userPlatforms: [] };
            info.nodes.push(node);
            continue;
        }
        if (!node)
            continue;
        switch (key) {
            case 'Endpoint':
                node.endpoint = value;
                break;
            case 'Status':
                node.status = value;
                break;
            case 'Error':
                node.error = value;
                break;
            case 'BuildKit version':
                node.buildkitVersion = value;
                break;
            case 'Driver Options':
                node.driverOptions = value;
                break;
            case 'BuildKit daemon flags':
                node.flags = value;
                break;
            case 'Platforms': {
                const listed = value
                    .split(',')
                    .map((p) => p.trim())
                    .filter((p) => p !== '');
                node.platforms = listed.map((p) => p.replace(/\*$/, ''));
                node.userPlatforms = listed.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
                break;
            }
            default:
                break;
        }
    }
    if (!info.name)
        throw new Error(`not buildx inspect output (no Name line): ${text.slice(0, 200)}`);
    return info;
}
/** Why a builder cannot be used, or undefined when every node is running. */
function builderProblem(info) {
    if (info.error)
        return `builder ${info.name}: ${info.error}`;
    if (info.nodes.length === 0)
        return `builder ${info.name} has no nodes`;
    for (const n of info.nodes) {
        if (n.error)
            return `builder ${info.name} node ${n.name}: ${n.error}`;
        if (n.status !== 'running')
            return `builder ${info.name} node ${n.name} is ${n.status || 'not running'}`;
    }
    return undefined;
}
async function inspectRunning(exec, name) {
    const { stdout } = await exec('docker', inspectArgs(name, true));
    const info = parseInspect(stdout);
    const problem = builderProblem(info);
    if (problem)
        throw new Error(problem);
    return info;
}
/**
 * Reuses `inputs.builder` when set (creates nothing); otherwise creates
 * `opts.name` and boots it. A builder this call created and that fails to boot
 * is removed again before the error is thrown.
 */
async function ensureBuilder(exec, inputs, opts) {
    if (inputs.builder) {
        const info = await inspectRunning(exec, inputs.builder);
        const refused = driverSupport(info.driver)?.refused;
        if (refused)
            throw new Error(`builder ${JSON.stringify(inputs.builder)} uses driver "${info.driver}", which ${refused}`);
        return { name: inputs.builder, created: false, info };
    }
    const creates = createBuilderArgs(opts.name, inputs, opts.configFile);
    await exec('docker', creates[0]);
    try {
        for (const args of creates.slice(1))
            await exec('docker', args);
        return { name: opts.name, created: true, info: await inspectRunning(exec, opts.name) };
    }
    catch (err) {
        await removeBuilder(exec, opts.name);
        throw err;
    }
}
/** Removes a builder; returns false (never throws) when buildx refuses. */
async function removeBuilder(exec, name) {
    const r = await exec('docker', removeArgs(name), { allowFailure: true });
    return r.exitCode === 0;
}

;// CONCATENATED MODULE: external "node:path"
const external_node_path_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");
;// CONCATENATED MODULE: ./src/buildx/command.ts
// Where the docker CLI finds its buildx plugin, and an exec that runs that
// plugin directly. `docker buildx X` is three processes: the docker CLI, its
// call of the plugin's metadata command, then the plugin; buildx run by its
// own path is one, and behaves the same (it reads the same DOCKER_CONFIG,
// BUILDX_CONFIG and docker context).

/** The docker CLI's system plugin folders on Linux, in its order (cli/cli-plugins/manager, defaultSystemPluginDirs). */
const SYSTEM_PLUGIN_DIRS = [
    '/usr/local/lib/docker/cli-plugins',
    '/usr/local/libexec/docker/cli-plugins',
    '/usr/lib/docker/cli-plugins',
    '/usr/libexec/docker/cli-plugins',
];
const PLUGIN = 'docker-buildx';
/** A docker config's `cliPluginsExtraDirs` (strings only; an unreadable config has none). */
function extraPluginDirs(configJson) {
    if (!configJson)
        return [];
    try {
        const dirs = JSON.parse(configJson).cliPluginsExtraDirs;
        return Array.isArray(dirs) ? dirs.filter((d) => typeof d === 'string' && d !== '') : [];
    }
    catch {
        return [];
    }
}
/**
 * The paths the docker CLI tries for `docker-buildx`, first match wins: the
 * config's `cliPluginsExtraDirs`, `<DOCKER_CONFIG>/cli-plugins`, then the
 * system folders.
 */
function pluginCandidates(dockerConfigDir, configJson) {
    const dirs = [...extraPluginDirs(configJson), external_node_path_namespaceObject.join(dockerConfigDir, 'cli-plugins'), ...SYSTEM_PLUGIN_DIRS];
    return dirs.map((d) => external_node_path_namespaceObject.join(d, PLUGIN));
}
/**
 * The plugin the docker CLI runs: the first candidate that is there at all
 * (checked against the real CLI in e2e/buildx-plugin.e2e.test.ts). When that
 * one cannot be run (a file not executable, a folder) the docker CLI
 * stops there with "unknown command" rather than look further, so there is no
 * plugin to run directly: undefined, and the call goes through docker, which
 * fails as it would have.
 */
function pickPlugin(candidates, entry) {
    for (const c of candidates) {
        const e = entry(c);
        if (e !== 'absent')
            return e === 'runnable' ? c : undefined;
    }
    return undefined;
}
/**
 * An exec that runs `docker buildx ...` as `<plugin> ...` when `plugin()`
 * names one, and through the docker CLI otherwise; every other command is
 * passed on unchanged. `plugin` is asked on every call: buildx may be
 * installed during the run (buildx-version).
 */
function directBuildx(exec, plugin) {
    return (cmd, args, opts) => {
        if (cmd !== 'docker' || args[0] !== 'buildx')
            return exec(cmd, args, opts);
        const binary = plugin();
        return binary ? exec(binary, args.slice(1), opts) : exec(cmd, args, opts);
    };
}

;// CONCATENATED MODULE: ./src/credentials.ts
// Registry credentials live in a DOCKER_CONFIG made for this run: buildx,
// imagetools and trivy all read it. The directory is deleted by main when it
// ends and again by the post step. Secrets are masked before anything runs.


/** Docker's config key for Docker Hub. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
function authKey(registry) {
    return registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io' ? DOCKER_HUB_KEY : registry;
}
function authString(auth) {
    return Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
}
/**
 * The config.json for the run: the user's own config (kept so earlier logins
 * and credential helpers still work) with our `auths` laid over it.
 */
function dockerConfigJson(auths, existing) {
    let base = {};
    if (existing) {
        try {
            const parsed = JSON.parse(existing);
            if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
                base = parsed;
        }
        catch {
            base = {};
        }
    }
    const prior = typeof base.auths === 'object' && base.auths !== null ? base.auths : {};
    const merged = { ...prior };
    for (const a of auths)
        merged[authKey(a.registry)] = { auth: authString(a) };
    const out = { ...base, auths: merged };
    // A credential helper configured for one of our registries would be asked
    // instead of `auths` (docker, buildx and trivy all read it first): drop it.
    if (typeof base.credHelpers === 'object' && base.credHelpers !== null && !Array.isArray(base.credHelpers)) {
        const helpers = { ...base.credHelpers };
        for (const a of auths) {
            delete helpers[a.registry];
            delete helpers[authKey(a.registry)];
        }
        out.credHelpers = helpers;
    }
    // A credsStore is asked for every registry without a credHelper, before
    // `auths`, so it would hide our credentials too: the run goes without it.
    delete out.credsStore;
    return JSON.stringify(out, null, 2);
}
/** The user's credsStore, when their config names one (the run's config drops it). */
function credsStoreOf(existing) {
    if (!existing)
        return undefined;
    try {
        const v = JSON.parse(existing).credsStore;
        return typeof v === 'string' && v ? v : undefined;
    }
    catch {
        return undefined;
    }
}
/**
 * Writes the run's DOCKER_CONFIG under `tempDir`. The docker CLI finds plugins
 * (buildx) and buildx finds builders under DOCKER_CONFIG, so the plugins folder
 * is linked back (whether or not it exists yet) and BUILDX_CONFIG pinned to
 * the user's own.
 */
function writeDockerConfig(tempDir, auths, userDir, buildxConfig = undefined) {
    const dir = path.join(tempDir, 'docker-config');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const userConfig = path.join(userDir, 'config.json');
    const existing = fs.existsSync(userConfig) ? fs.readFileSync(userConfig, 'utf8') : undefined;
    fs.writeFileSync(path.join(dir, 'config.json'), dockerConfigJson(auths, existing), { mode: 0o600 });
    // Linked even when the user's plugins folder does not exist yet: buildx may
    // be installed there later in the run (buildx-version on a runner without
    // it), and the link then resolves. A dangling link is no plugin to docker.
    fs.symlinkSync(path.join(userDir, 'cli-plugins'), path.join(dir, 'cli-plugins'));
    const buildxDir = buildxConfig || path.join(userDir, 'buildx');
    const store = credsStoreOf(existing);
    const warnings = store
        ? [
            `your docker config's credsStore "${store}" is not used during this run (it would hide registry-auth); registries that need it belong in registry-auth`,
        ]
        : [];
    return { dir, env: { DOCKER_CONFIG: dir, BUILDX_CONFIG: buildxDir }, warnings };
}
/** The user's docker config directory: DOCKER_CONFIG, else ~/.docker. */
function dockerConfigDir(env) {
    return env.DOCKER_CONFIG || external_node_path_namespaceObject.join(env.HOME || '/root', '.docker');
}
/**
 * Credentials already in a docker config (e.g. from docker/login-action), for
 * the registry client: `auths` entries with `auth` or username/password.
 * Credential helpers (credsStore) are not read.
 */
function dockerConfigAuths(configJson) {
    let parsed;
    try {
        parsed = JSON.parse(configJson);
    }
    catch {
        return [];
    }
    const auths = parsed?.auths;
    if (typeof auths !== 'object' || auths === null)
        return [];
    const out = [];
    for (const [key, value] of Object.entries(auths)) {
        if (typeof value !== 'object' || value === null)
            continue;
        const v = value;
        let username = typeof v.username === 'string' ? v.username : '';
        let password = typeof v.password === 'string' ? v.password : '';
        if (typeof v.auth === 'string' && v.auth) {
            const decoded = Buffer.from(v.auth, 'base64').toString('utf8');
            const at = decoded.indexOf(':');
            if (at > 0) {
                username = decoded.slice(0, at);
                password = decoded.slice(at + 1);
            }
        }
        if (!username || !password)
            continue;
        const registry = key === DOCKER_HUB_KEY ? 'docker.io' : key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
        out.push({ registry, username, password });
    }
    return out;
}
/** The user's docker config credentials, read from disk (empty when there are none). */
function readDockerConfigAuths(userDir) {
    const file = path.join(userDir, 'config.json');
    return fs.existsSync(file) ? dockerConfigAuths(fs.readFileSync(file, 'utf8')) : [];
}
/** The registry a workflow's GITHUB_TOKEN can push to (with `permissions: packages: write`). */
const GITHUB_REGISTRY = 'ghcr.io';
/**
 * registry-auth plus ghcr.io credentials made from github-token, when the run
 * writes to ghcr.io and neither registry-auth nor the user's docker config
 * (e.g. docker/login-action) has any for it. The username is the actor, as
 * GitHub's docs log in with; ghcr.io checks only the token.
 */
function withGithubToken(auths, existing, written, token, actor, mask) {
    const has = (list) => list.some((a) => a.registry === GITHUB_REGISTRY);
    if (token === '' || !written.includes(GITHUB_REGISTRY) || has(auths) || has(existing))
        return [...auths];
    const auth = { registry: GITHUB_REGISTRY, username: actor || 'github-actions', password: token };
    mask(token);
    mask(authString(auth));
    return [...auths, auth];
}

;// CONCATENATED MODULE: ./src/buildx/plugin.ts
// The real lookup of the buildx plugin, for main and post: the user's docker
// config read once, the candidate paths checked on every call (the run may
// install buildx).




/**
 * A docker CLI plugin path as the CLI sees it: what does not stat (after
 * links) is absent; a regular file this process may execute is runnable;
 * anything else (a folder, a file without the execute bit) is broken.
 */
function pluginEntry(file) {
    let st;
    try {
        st = external_node_fs_namespaceObject.statSync(file);
    }
    catch {
        return 'absent';
    }
    if (!st.isFile())
        return 'broken';
    try {
        external_node_fs_namespaceObject.accessSync(file, external_node_fs_namespaceObject.constants.X_OK);
        return 'runnable';
    }
    catch {
        return 'broken';
    }
}
function buildxPluginFinder(env) {
    const dir = dockerConfigDir(env);
    let configJson;
    try {
        configJson = external_node_fs_namespaceObject.readFileSync(external_node_path_namespaceObject.join(dir, 'config.json'), 'utf8');
    }
    catch {
        configJson = undefined;
    }
    const candidates = pluginCandidates(dir, configJson);
    return () => pickPlugin(candidates, pluginEntry);
}

;// CONCATENATED MODULE: ./src/state.ts
// What the post step needs to clean up, saved once by main and read by post.
// Small and typed; never holds a secret (the DOCKER_CONFIG directory path is
// saved so post can delete it, not its contents).

const KEY = 'multiarch-state';
function state_saveState(state) {
    core.saveState(KEY, JSON.stringify(state));
}
function parseState(raw) {
    if (!raw)
        return {};
    const value = JSON.parse(raw);
    if (typeof value !== 'object' || value === null)
        return {};
    const out = {};
    const rec = value;
    if (typeof rec.builder === 'string' && rec.builder)
        out.builder = rec.builder;
    if (typeof rec.tempDir === 'string' && rec.tempDir)
        out.tempDir = rec.tempDir;
    return out;
}
function loadState() {
    return parseState(getState(KEY));
}

;// CONCATENATED MODULE: ./src/util/errors.ts
/** The message of anything thrown (an Error's message, else its string form). */
function errorMessage(err) {
    return err instanceof Error ? err.message : String(err);
}

;// CONCATENATED MODULE: ./src/post.ts
// The post step: removes what the run created (a builder it created, its temp
// directory with any DOCKER_CONFIG). It only warns; it never fails the job.








async function cleanup(exec, state, warn) {
    if (state.builder) {
        try {
            if (!(await removeBuilder(exec, state.builder)))
                warn(`could not remove builder ${state.builder}`);
        }
        catch (err) {
            warn(`could not remove builder ${state.builder}: ${errorMessage(err)}`);
        }
    }
    if (state.tempDir) {
        try {
            external_node_fs_namespaceObject.rmSync(state.tempDir, { recursive: true, force: true });
        }
        catch (err) {
            warn(`could not remove ${state.tempDir}: ${errorMessage(err)}`);
        }
    }
}
async function post() {
    const warn = (m) => warning(m);
    let state;
    try {
        state = loadState();
    }
    catch (err) {
        warn(`nothing cleaned up: the saved state is unreadable (${errorMessage(err)})`);
        return;
    }
    // buildx by its own path, as in main (one process instead of three).
    await cleanup(directBuildx(execCommand, buildxPluginFinder(process.env)), state, warn);
}


/***/ })

/******/ });
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/asset-relocator-loader */
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = decodeURIComponent(new URL('.', import.meta.url).pathname).slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/******/ /* webpack/runtime/async module */
/******/ (() => {
/******/ 	var webpackQueues = typeof Symbol === "function" ? Symbol("webpack queues") : "__webpack_queues__";
/******/ 	var webpackExports = typeof Symbol === "function" ? Symbol("webpack exports") : "__webpack_exports__";
/******/ 	var webpackError = typeof Symbol === "function" ? Symbol("webpack error") : "__webpack_error__";
/******/ 	var resolveQueue = (queue) => {
/******/ 		if(queue && queue.d < 1) {
/******/ 			queue.d = 1;
/******/ 			queue.forEach((fn) => (fn.r--));
/******/ 			queue.forEach((fn) => (fn.r-- ? fn.r++ : fn()));
/******/ 		}
/******/ 	}
/******/ 	var wrapDeps = (deps) => (deps.map((dep) => {
/******/ 		if(dep !== null && typeof dep === "object") {
/******/ 			if(dep[webpackQueues]) return dep;
/******/ 			if(dep.then) {
/******/ 				var queue = [];
/******/ 				queue.d = 0;
/******/ 				dep.then((r) => {
/******/ 					obj[webpackExports] = r;
/******/ 					resolveQueue(queue);
/******/ 				}, (e) => {
/******/ 					obj[webpackError] = e;
/******/ 					resolveQueue(queue);
/******/ 				});
/******/ 				var obj = {};
/******/ 				obj[webpackQueues] = (fn) => (fn(queue));
/******/ 				return obj;
/******/ 			}
/******/ 		}
/******/ 		var ret = {};
/******/ 		ret[webpackQueues] = x => {};
/******/ 		ret[webpackExports] = dep;
/******/ 		return ret;
/******/ 	}));
/******/ 	__nccwpck_require__.a = (module, body, hasAwait) => {
/******/ 		var queue;
/******/ 		hasAwait && ((queue = []).d = -1);
/******/ 		var depQueues = new Set();
/******/ 		var exports = module.exports;
/******/ 		var currentDeps;
/******/ 		var outerResolve;
/******/ 		var reject;
/******/ 		var promise = new Promise((resolve, rej) => {
/******/ 			reject = rej;
/******/ 			outerResolve = resolve;
/******/ 		});
/******/ 		promise[webpackExports] = exports;
/******/ 		promise[webpackQueues] = (fn) => (queue && fn(queue), depQueues.forEach(fn), promise["catch"](x => {}));
/******/ 		module.exports = promise;
/******/ 		body((deps) => {
/******/ 			currentDeps = wrapDeps(deps);
/******/ 			var fn;
/******/ 			var getResult = () => (currentDeps.map((d) => {
/******/ 				if(d[webpackError]) throw d[webpackError];
/******/ 				return d[webpackExports];
/******/ 			}))
/******/ 			var promise = new Promise((resolve) => {
/******/ 				fn = () => (resolve(getResult));
/******/ 				fn.r = 0;
/******/ 				var fnQueue = (q) => (q !== queue && !depQueues.has(q) && (depQueues.add(q), q && !q.d && (fn.r++, q.push(fn))));
/******/ 				currentDeps.map((dep) => (dep[webpackQueues](fnQueue)));
/******/ 			});
/******/ 			return fn.r ? promise : getResult();
/******/ 		}, (err) => ((err ? reject(promise[webpackError] = err) : outerResolve(exports)), resolveQueue(queue)));
/******/ 		queue && queue.d < 0 && (queue.d = 0);
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/************************************************************************/
/******/ 
/******/ // startup
/******/ // Load entry module and return exports
/******/ // This entry module used 'module' so it can't be inlined
/******/ var __webpack_exports__ = __nccwpck_require__(734);
/******/ __webpack_exports__ = await __webpack_exports__;
/******/ 

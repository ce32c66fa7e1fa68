// Defaults of the action's inputs; action.yml states the same ones.

/** The image built when push is false and no image is given. */
export const LOCAL_IMAGE = 'localhost/multiarch-build';

/** Defaults, applied when an input is empty; action.yml states the same ones. */
export const DEFAULTS: Readonly<Record<string, string>> = {
  context: '.',
  platforms: 'linux/amd64,linux/arm64',
  'no-cache': 'false',
  provenance: 'false',
  sbom: 'false',
  push: 'auto',
  mode: 'all',
  qemu: 'auto',
  'qemu-image': 'docker.io/tonistiigi/binfmt:qemu-v9.2.2-52',
  driver: 'docker-container',
  'buildx-base-url': 'https://github.com/docker/buildx/releases/download',
  scan: 'true',
  severity: 'UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL',
  'fail-on': 'critical',
  'ignore-unfixed': 'false',
  scanners: 'vuln',
  'trivy-version': 'v0.74.0',
  'trivy-base-url': 'https://github.com/aquasecurity/trivy/releases/download',
  'sbom-attach': 'false',
  'registry-timeout': '60',
};

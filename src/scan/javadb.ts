// trivy's Java DB, fetched only when an image needs it, once per run.
//
// trivy opens the Java DB only when an image holds JAR/WAR/EAR/PAR files
// (pkg/fanal/analyzer/language/java/jar: the analyzer runs on those files
// alone), and with `--skip-java-db-update` and no Java DB in the cache dir it
// refuses the scan (pkg/javadb: "'--skip-java-db-update' cannot be specified
// on the first run"). The real Java DB is about 1 GB to download, which most
// images never need, so the scans start without it; the first scan refused
// for want of it starts the one download, and every scan refused, or started
// after that, waits for it and runs (again) with it. A Java DB already in the
// cache dir (an earlier run) is refreshed up front, as trivy would.

/** True when trivy's output says the scan needs the Java DB it was told not to fetch. */
export function needsJavaDb(output: string): boolean {
  return /--skip-java-db-update' cannot be specified on the first run|Unable to initialize the Java DB/i.test(output);
}

export interface JavaDbOnDemand {
  /** When a download has started: waits for it (a scan started now need not be refused first). */
  settled(): Promise<void>;
  /** Starts the download, once per run; later calls share it. */
  fetch(): Promise<void>;
  /** True once a download was started. */
  readonly started: boolean;
}

/** Wraps `download` so it runs at most once, on the first `fetch()`. */
export function javaDbOnDemand(download: () => Promise<void>): JavaDbOnDemand {
  let running: Promise<void> | undefined;
  return {
    get started() {
      return running !== undefined;
    },
    async settled() {
      if (running) await running;
    },
    fetch() {
      running ??= download();
      return running;
    },
  };
}

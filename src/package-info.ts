// The name and version of this package, from the package.json beside src/ (the one npm
// installed): what `pensieve --version` prints and GET / reports. Read once, when first asked.

import { readFileSync } from 'node:fs';

export interface PackageInfo {
  name: string;
  version: string;
}

let info: PackageInfo | undefined;

export function packageInfo(): PackageInfo {
  if (info === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
    info = { name: String(pkg.name), version: String(pkg.version) };
  }
  return info;
}

// Jest globalSetup: a fresh folder for every line the suite logs (scanned by log-scan-teardown.mjs).
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

export default function setup() {
  const dir = path.resolve(import.meta.dirname, '../../test-results/logs');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

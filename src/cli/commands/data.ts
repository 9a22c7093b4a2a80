import fs from 'node:fs';
import type { Command } from 'commander';
import type { CatalogEntry } from '../../data/catalog.ts';

async function availability(entry: CatalogEntry): Promise<string> {
  const [{ FASHION_MNIST_DIR }, { resolveCifarDir }] = await Promise.all([import('../../data/registry.ts'), import('../../data/cifar.ts')]);
  switch (entry.name) {
    case 'mnist':
      return 'embedded';
    case 'synthetic':
      return 'generated';
    case 'mnist-idx':
      return 'needs --data-dir';
    case 'fashion-mnist':
      return fs.existsSync(FASHION_MNIST_DIR) ? `present (${FASHION_MNIST_DIR})` : 'missing (apt-get install dataset-fashion-mnist)';
    case 'cifar10':
    case 'cifar100':
      try {
        return `present (${resolveCifarDir(entry.name)})`;
      } catch {
        return `missing (pipeline data fetch ${entry.name})`;
      }
    default:
      return '?';
  }
}

export function registerData(program: Command): void {
  const data = program.command('data').description('list, download and check datasets');

  data
    .command('list')
    .description('list the known datasets and whether their files are here')
    .action(async () => {
      const { readCatalog } = await import('../../data/catalog.ts');
      for (const e of readCatalog()) {
        const split = e.split ? `${e.split.train}/${e.split.test}` : 'configurable';
        process.stdout.write(
          `${e.name.padEnd(14)} ${String(e.classes).padStart(3)} classes  ${e.shape.join('x').padEnd(8)} train/test ${split.padEnd(12)} ${await availability(e)}\n`,
        );
      }
    });

  data
    .command('fetch <name>')
    .description('download an archive (cifar10, cifar100), check its md5 and unpack it under datasets/cache/<name>/')
    .option('--data-dir <dir>', 'unpack here instead of datasets/cache/<name>/')
    .option('--force', 'replace an existing copy')
    .action(async (name: string, opts: { dataDir?: string; force?: boolean }) => {
      const { fetchDataset } = await import('../../data/fetch.ts');
      let lastReport = 0;
      const result = await fetchDataset(name, {
        dir: opts.dataDir,
        force: opts.force,
        onProgress: (received, total) => {
          if (received - lastReport < 16 << 20 && received !== total) return;
          lastReport = received;
          const pct = total ? ` (${Math.round((100 * received) / total)}%)` : '';
          process.stderr.write(`${name}: ${(received / 2 ** 20).toFixed(0)} MiB${pct}\n`);
        },
      });
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    });

  data
    .command('verify <name>')
    .description('load a dataset, check record counts and label ranges, print a JSON summary')
    .option('--data-dir <dir>', 'directory holding the dataset files')
    .action(async (name: string, opts: { dataDir?: string }) => {
      const { verifyDataset } = await import('../../data/verify.ts');
      process.stdout.write(`${JSON.stringify(verifyDataset(name, { dataDir: opts.dataDir }), null, 2)}\n`);
    });
}

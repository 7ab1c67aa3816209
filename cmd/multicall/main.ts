// The executable's main script (scripts/build.ts): one binary, several names. The name it is
// started as (argv[0], through a link) picks the part (src/exe/names.ts); only that part's
// bundle is loaded, from the executable's assets, with its V8 code cache.
import { loadBundle } from "../../src/exe/bundles.ts";
import { dispatch } from "../../src/exe/names.ts";

const d = dispatch(process.argv0, process.argv.slice(2));
if ("message" in d) {
  process.stderr.write(`${d.message}\n`);
  process.exitCode = d.code;
} else {
  // Under node (dist/bundles/multicall.cjs) the parts are the files beside it.
  const { run } = loadBundle<{ run(args: string[]): Promise<number> }>(d.part, __dirname, require);
  run(d.args).then((code) => {
    process.exitCode = code;
  });
}

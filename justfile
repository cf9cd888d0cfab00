# Bunker's tasks. `just` comes from the npm package rust-just: `npx just RECIPE` works on a fresh
# clone once `scripts/deps.sh npm` has run; the README's two commands need nothing beforehand.

bun := "node_modules/.bin/bun"

default:
    @just --list

# install what is missing (Debian packages and npm packages)
deps:
    bash scripts/deps.sh all

# build the one binary into out/bunker
build:
    {{bun}} scripts/build.ts

# the whole test suite, ending with "N passed, N failed"
test *ARGS:
    bash scripts/test.sh {{ARGS}}

# type-check only
typecheck:
    node_modules/.bin/tsc --noEmit -p .

# benchmarks of the binary (size, cold start, RSS); writes bench/results/binary.md
bench: build
    {{bun}} bench/binary.ts

# build our kernel (cached by the hash of its configuration and source; prints the cache folder)
kernel:
    bash kernel-config/build.sh --print-dir

# run kernel-hardening-checker on our kernel config; writes kernel-config/hardening-report.md
kernel-check:
    {{bun}} kernel-config/check.ts

# build the bootable image into out/image (kernel, initramfs, SquashFS, ISO, iPXE, signed manifest)
image *ARGS: build
    {{bun}} rootfs/build/main.ts {{ARGS}}

# check an image folder against its signed manifest
verify-image DIR="out/image" *ARGS:
    out/bunker verify-image {{DIR}} {{ARGS}}

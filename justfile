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

#!/usr/bin/env bash
# The steps of ftpy's GitHub Action (action.yml at the repository root), one subcommand each.
# The runner sets GITHUB_ACTION_PATH (this checkout), GITHUB_ENV, GITHUB_PATH and GITHUB_OUTPUT;
# action.yml passes the inputs as INPUT_* variables. Nothing here reads a terminal.
# Credentials for a remote cache reach ftpy through the environment the workflow gives the step
# (GITHUB_TOKEN, FTPY_REMOTE_CACHE_TOKEN); none passes through here.
set -euo pipefail

action_dir=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set: run this from action.yml}
bin_dir=${FTPY_ACTION_BIN:-${HOME:?}/.cache/ftpy-action/bin}

die() {
    printf '::error::%s\n' "$*" >&2
    exit 1
}

# The request and flags `ftpy install` and `ftpy cache key` take, from the inputs.
request_args() {
    local version=${INPUT_PYTHON_VERSION:?the python-version input is empty}
    case "$version" in
        *[!0-9a-z.+]*) die "python-version '$version' is not a version such as 3.14t, 3.14 or 3.14.6t" ;;
    esac
    args=(--profile "${INPUT_PROFILE:-optimized}")
    case "${INPUT_PAIR:-false}" in
        true) args+=(--pair) ;;
        false) ;;
        *) die "pair must be true or false, not '${INPUT_PAIR}'" ;;
    esac
    args+=("$version")
}

# The remote cache flags of `ftpy install`, from the remote-cache and push inputs: a URL of a
# store ftpy reads (no credentials, no query, nothing a shell or a workflow would interpret),
# and --push only to a registry. The URL is never repeated in a message: it could hold a secret.
remote_args() {
    remote=()
    local url=${INPUT_REMOTE_CACHE:-}
    if [ -n "$url" ]; then
        local rest=${url#*://}
        case "${rest%%/*}" in
            *@*) die "remote-cache: credentials do not go in the URL; give them in the step's env (GITHUB_TOKEN for ghcr.io, or FTPY_REMOTE_CACHE_TOKEN)" ;;
        esac
        case "$url" in
            *[?#]*) die "remote-cache: a base URL has no query or fragment (a signed URL's query is a credential)" ;;
            *[!]A-Za-z0-9._~:/%+=,[-]*) die "remote-cache: the URL holds white space, a quote, \$ or another character that has no place in it" ;;
        esac
        case "$url" in
            oci://[!/]*/?* | oci+http://[!/]*/?* | https://[!/]* | http://[!/]* | file:///?*) ;;
            *) die "remote-cache must start with oci://HOST/, oci+http://HOST/, https://HOST, http://HOST or file:///" ;;
        esac
        remote=(--remote-cache "$url")
    fi
    case "${INPUT_PUSH:-false}" in
        true)
            case "$url" in
                oci://* | oci+http://*) remote+=(--push) ;;
                *) die "push needs remote-cache to be a registry (oci://...): a static store is read-only" ;;
            esac
            ;;
        false) ;;
        *) die "push must be true or false, not '${INPUT_PUSH}'" ;;
    esac
}

case "${1:-}" in
    prepare)
        # The inputs are checked before anything is built.
        remote_args
        # ftpy's home for this and later steps, and a key for ftpy's binary: a digest of the
        # files it is built from.
        home=${INPUT_FTPY_HOME:-$HOME/.local/share/ftpy}
        case "$home" in /*) ;; *) home=$PWD/$home ;; esac
        echo "FTPY_HOME=$home" >>"$GITHUB_ENV"
        cd -- "$action_dir"
        source_key=$(find Cargo.toml Cargo.lock build.rs install.sh recipes src -type f -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
        {
            echo "bin-dir=$bin_dir"
            echo "source-key=$source_key"
            echo "builds-dir=$home/cache/builds"
        } >>"$GITHUB_OUTPUT"
        ;;
    ftpy)
        # Build ftpy unless the cache restored it; building it installs CPython's build
        # dependencies too, which a later build needs.
        if [ "${FTPY_RESTORED:-}" = true ] && [ -x "$bin_dir/ftpy" ]; then
            echo "ftpy restored from the cache"
        else
            FTPY_INSTALL_DIR=$bin_dir "$action_dir/install.sh" --build-deps
            echo "FTPY_ACTION_BUILD_DEPS=installed" >>"$GITHUB_ENV"
        fi
        echo "$bin_dir" >>"$GITHUB_PATH"
        "$bin_dir/ftpy" --version
        ;;
    key)
        request_args
        echo "key=$("$bin_dir/ftpy" cache key "${args[@]}")" >>"$GITHUB_OUTPUT"
        ;;
    install)
        request_args
        remote_args
        # Without restored builds ftpy builds from source: it needs the headers.
        if [ "${FTPY_BUILDS_RESTORED:-}" != true ] && [ "${FTPY_ACTION_BUILD_DEPS:-}" != installed ]; then
            "$action_dir/install.sh" --deps-only
        fi
        # On GitHub Actions ftpy puts its bin directory on PATH and sets the python-path,
        # python-gil and python-ft outputs.
        GITHUB_ACTIONS=true "$bin_dir/ftpy" install ${remote[@]+"${remote[@]}"} "${args[@]}"
        ;;
    *)
        die "usage: ftpy-action.sh prepare|ftpy|key|install"
        ;;
esac

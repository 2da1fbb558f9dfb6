// The Octokit the Action talks to GitHub with, pointed at GITHUB_API_URL (GitHub Enterprise Server, or a
// local stand-in in tests).

import { getOctokit } from '@actions/github';

export type GitHubClient = ReturnType<typeof getOctokit>;

/**
 * `fetch` unset keeps `@actions/github`'s own (undici with the runner's proxy settings); tests pass
 * the global fetch so that nock, which hooks the global one, sees every request.
 */
export function createGitHubClient(token: string, apiUrl: string, fetch?: typeof globalThis.fetch): GitHubClient {
  return getOctokit(token, {
    baseUrl: apiUrl,
    userAgent: 'shipguard-action',
    // Octokit logs deprecation notices through console.warn; the step log should carry only ours.
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    ...(fetch ? { request: { fetch } } : {}),
  });
}

export interface RepositoryName {
  owner: string;
  repo: string;
}

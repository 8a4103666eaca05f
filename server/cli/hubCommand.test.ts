import { describe, expect, it } from 'vitest';
import { parseHubCommandLine } from './hubCommand.js';

describe('--sync-lr-scaling', () => {
  it('defaults to auto: the rule of the optimizer', () => {
    expect(parseHubCommandLine([]).options.syncLrScaling).toBe('auto');
  });

  it.each(['auto', 'linear', 'sqrt', 'none'] as const)('takes %s', (rule) => {
    expect(parseHubCommandLine(['--sync-lr-scaling', rule]).options.syncLrScaling).toBe(rule);
  });
});

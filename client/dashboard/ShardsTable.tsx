import { memo } from 'react';
import type { ShardRow } from '../../shared/dashboardProtocol.js';
import { formatBytes, formatInteger, formatRate } from './format.js';
import { Panel } from './Panel.js';

/** Where the parameters live: one row per parameter-server shard. */
export const ShardsTable = memo(function ShardsTable({ shards }: { readonly shards: readonly ShardRow[] }) {
  return (
    <Panel
      id="shards"
      title="Shards"
      note="Each shard holds a range of the flat parameter vector and applies its part of every gradient. In: gradient bytes received; out: weight bytes sent."
      ready={shards.length > 0}
      empty={shards.length > 0 ? null : 'No shard reported yet.'}
    >
      <div className="table-scroll">
        <table data-testid="shards">
          <thead>
            <tr>
              <th scope="col">Shard: parameters</th>
              <th scope="col" className="num">
                Version
              </th>
              <th scope="col" className="num">
                Updates/s
              </th>
              <th scope="col" className="num">
                In
              </th>
              <th scope="col" className="num">
                Out
              </th>
            </tr>
          </thead>
          <tbody>
            {shards.map((s) => (
              <tr key={s.index}>
                <td title={`${formatInteger(s.length)} parameters`}>
                  <b>{s.index}</b>: {formatInteger(s.offset)}–{formatInteger(s.offset + s.length - 1)}
                </td>
                <td className="num">{formatInteger(s.version)}</td>
                <td className="num">{formatRate(s.updatesPerSec)}</td>
                <td className="num">{formatBytes(s.bytesIn)}</td>
                <td className="num">{formatBytes(s.bytesOut)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Panel>
  );
});

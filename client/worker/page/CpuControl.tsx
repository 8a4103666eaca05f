import { useId } from 'react';
import { CPU_MAX, CPU_MIN } from '../limits/settings.js';

/** The duty-cycle slider (the /worker page and the /embed card): 10-100 % in steps of 5. */
export function CpuControl({ cpu, onChange }: { cpu: number; onChange: (cpu: number) => void }) {
  const id = useId();
  return (
    <div className="cpu-control">
      <label htmlFor={id}>Use up to</label>
      <input
        id={id}
        type="range"
        min={CPU_MIN}
        max={CPU_MAX}
        step={5}
        value={cpu}
        data-testid="cpu"
        onChange={(event) => onChange(Number(event.target.value))}
      />
      <output htmlFor={id} data-testid="cpu-value">
        {cpu}%
      </output>
    </div>
  );
}

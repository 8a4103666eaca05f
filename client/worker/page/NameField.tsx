import { useId, useState, type FormEvent } from 'react';
import { checkDisplayName } from '../volunteerName.js';

/** The optional display name for the hub's board; saving it joins the hub again with it. */
export function NameField({ name, onSave }: { name: string | null; onSave: (name: string) => void }) {
  const id = useId();
  const [text, setText] = useState(name ?? '');
  const checked = checkDisplayName(text);
  const problem = 'problem' in checked ? checked.problem : null;
  const unchanged = 'name' in checked && checked.name === (name ?? '');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if ('name' in checked) onSave(checked.name);
  };
  return (
    <form className="name-field" onSubmit={submit}>
      <label htmlFor={id}>Display name (optional)</label>
      <input
        id={id}
        data-testid="display-name"
        value={text}
        maxLength={40}
        placeholder="shown on the hub's board"
        onChange={(event) => setText(event.target.value)}
      />
      <button type="submit" disabled={problem !== null || unchanged}>
        Save
      </button>
      {problem ? <span className="error">{problem}</span> : null}
    </form>
  );
}

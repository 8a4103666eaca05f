import { memo } from 'react';
import type { ImageSet } from './DashboardStore.js';
import { GreyImage } from './GreyImage.js';
import { Panel } from './Panel.js';

/** About this many CSS pixels per image, whatever its size (5x5 filters, 28x28 dense units). */
const IMAGE_CSS_SIZE = 64;

/** What the first layer looks for: each filter (or dense unit) as a small greyscale image. */
export const FilterGrid = memo(function FilterGrid({ filters }: { readonly filters: ImageSet | null }) {
  const ready = filters !== null && filters.images.length > 0;
  const scale = filters
    ? Math.max(1, Math.round(IMAGE_CSS_SIZE / Math.max(filters.width, filters.height)))
    : 1;
  return (
    <Panel
      id="filters"
      title="First-layer filters"
      note={
        filters
          ? `${filters.title}; each scaled to its own range, dark = its lowest weight, light = its highest.`
          : 'The weights of the first layer, drawn as images.'
      }
      ready={ready}
      empty={ready ? null : 'No weights sampled yet.'}
    >
      <div className="image-grid" data-testid="filter-grid">
        {filters?.images.map((pixels, i) => (
          <figure key={i} className="filter">
            <GreyImage
              pixels={pixels}
              width={filters.width}
              height={filters.height}
              scale={scale}
              label={`filter ${i + 1}`}
            />
            <figcaption>{i + 1}</figcaption>
          </figure>
        ))}
      </div>
    </Panel>
  );
});

import { memo, useLayoutEffect, useRef } from 'react';

interface GreyImageProps {
  /** width x height grey levels, row-major, 0 = black. */
  readonly pixels: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** CSS pixels per image pixel. */
  readonly scale: number;
  readonly label: string;
}

/** Reused by every image: the native-size bitmap that is then scaled up without smoothing. */
let scratch: HTMLCanvasElement | null = null;

/**
 * A small greyscale image on a canvas, scaled up with image smoothing off so each weight or pixel is a
 * crisp square (drawn at the device's pixel ratio, not stretched by CSS).
 */
export const GreyImage = memo(function GreyImage({ pixels, width, height, scale, label }: GreyImageProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useLayoutEffect(() => {
    const target = canvas.current;
    const context = target?.getContext('2d');
    if (!target || !context) return;
    const ratio = window.devicePixelRatio || 1;
    target.width = Math.round(width * scale * ratio);
    target.height = Math.round(height * scale * ratio);
    scratch ??= document.createElement('canvas');
    scratch.width = width;
    scratch.height = height;
    const source = scratch.getContext('2d');
    if (!source) return;
    const image = source.createImageData(width, height);
    for (let i = 0; i < width * height; i++) {
      const v = pixels[i];
      image.data[i * 4] = v;
      image.data[i * 4 + 1] = v;
      image.data[i * 4 + 2] = v;
      image.data[i * 4 + 3] = 255;
    }
    source.putImageData(image, 0, 0);
    context.imageSmoothingEnabled = false;
    context.drawImage(scratch, 0, 0, target.width, target.height);
  }, [pixels, width, height, scale]);
  return (
    <canvas
      ref={canvas}
      className="grey-image"
      style={{ width: width * scale, height: height * scale }}
      role="img"
      aria-label={label}
    />
  );
});

import type { PerSecond } from './stats.js';

export interface Series {
  label: string;
  data: PerSecond;
  /** A CSS colour with at least 3:1 contrast on the panel (WCAG 1.4.11). */
  color: string;
  style: 'bars' | 'line';
}

/**
 * A small live chart on a canvas: bars for one series, a line for another, over the last
 * 30 s, scaled to the largest value shown. Drawn at the device's pixel ratio so it is crisp.
 */
export class LiveChart {
  private readonly ctx: CanvasRenderingContext2D;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly series: Series[]) {
    this.ctx = canvas.getContext('2d')!;
  }

  draw(): void {
    const { canvas, ctx } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    for (const s of this.series) s.data.roll();
    const max = Math.max(1, ...this.series.flatMap((s) => s.data.buckets));
    const pad = 2;
    const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
    for (const s of this.series) {
      const n = s.data.buckets.length;
      const step = width / n;
      ctx.fillStyle = s.color;
      ctx.strokeStyle = s.color;
      if (s.style === 'bars') {
        s.data.buckets.forEach((v, i) => {
          if (v > 0) ctx.fillRect(i * step + 1, y(v), Math.max(1, step - 2), height - pad - y(v));
        });
      } else {
        ctx.lineWidth = 2;
        ctx.beginPath();
        s.data.buckets.forEach((v, i) => (i === 0 ? ctx.moveTo(i * step + step / 2, y(v)) : ctx.lineTo(i * step + step / 2, y(v))));
        ctx.stroke();
      }
    }
    // The scale, so the height of a bar means something.
    ctx.fillStyle = getComputedStyle(canvas).color;
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    ctx.fillText(`${max}/s`, 4, 2);
  }
}

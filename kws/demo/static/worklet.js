// kws-demo's capture: the microphone's samples, down-mixed, resampled to the model's rate when the audio
// context could not run at it (linear interpolation), as 16-bit integers, posted in chunks.
class KwsCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, chunk } = options.processorOptions;
    this.step = sampleRate / targetRate; // input samples per output sample
    this.chunk = chunk;
    this.out = new Int16Array(chunk);
    this.filled = 0;
    this.next = 0; // position of the next output sample, in input samples from the previous one
    this.previous = 0;
  }

  emit(value) {
    const clipped = Math.max(-1, Math.min(1, value));
    this.out[this.filled++] = Math.max(-32768, Math.min(32767, Math.round(clipped * 32768)));
    if (this.filled === this.chunk) {
      this.port.postMessage(this.out.buffer, [this.out.buffer]);
      this.out = new Int16Array(this.chunk);
      this.filled = 0;
    }
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const frames = channels[0].length;
    for (let i = 0; i < frames; i++) {
      let x = 0;
      for (const channel of channels) x += channel[i];
      x /= channels.length;
      if (this.step === 1) {
        this.emit(x);
        continue;
      }
      // outputs between the previous input sample (at 0) and this one (at 1)
      while (this.next <= 1) {
        this.emit(this.previous + (x - this.previous) * this.next);
        this.next += this.step;
      }
      this.next -= 1;
      this.previous = x;
    }
    return true;
  }
}

registerProcessor("kws-capture", KwsCapture);

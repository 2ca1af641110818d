// What text the stores keep: the kit's rule (no U+0000, no lone surrogate), shared with the gateway's route API.
export { firstUnstorable, storableText, unstorableReason } from '@trellis/kit';

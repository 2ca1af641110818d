// The @trellis/examples package: the four example services as components, their events and landscape facts.
export { productComponent } from './product/main.ts';
export { recommendationComponent } from './recommendation/main.ts';
export { reviewComponent } from './review/main.ts';
export { productCompositeComponent } from './product-composite/main.ts';
export { DESTINATIONS, createEvent, readEvent } from './shared/events.ts';
export type { CoreService, Event, EventType } from './shared/events.ts';
export { exampleComponents, DEV_ENCRYPT_KEY, SCALABLE, partitionsEnv } from './landscape.ts';

/**
 * The test kit: property-based checks for concurrent code, built on fast-check.
 *
 * @module
 */
export {};

//! The runtime: the only layer with side effects (processes, PTYs, signals,
//! timers, files). It turns the world into events and carries out effects.

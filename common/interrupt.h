// Ctrl-C and SIGTERM during long lab operations: the first one sets a flag that the waiting loops
// check, so they throw and the destructors tear down what was built; a second one ends the
// process at once, as usual.
#pragma once

namespace qpspread {

void install_interrupt_handler();
bool interrupted();
// Throws qpspread::Error("interrupted") once a signal has arrived.
void throw_if_interrupted();

}  // namespace qpspread

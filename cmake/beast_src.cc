// The one translation unit that compiles Boost.Asio and Boost.Beast (see cmake/beast.cmake).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
